/** Leveled logging to stderr. Secrets are never passed here: callers log hosts and digests, not headers. */
export type LogLevel = "error" | "warn" | "info" | "debug";
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export function parseLogLevel(s: string): LogLevel {
  if (s in ORDER) return s as LogLevel;
  throw new Error(`invalid log level "${s}": expected error, warn, info or debug`);
}

export function createLogger(level: LogLevel = "warn", sink: (line: string) => void = (l) => process.stderr.write(l + "\n")): Logger {
  const at = (l: LogLevel) => (msg: string) => {
    if (ORDER[l] <= ORDER[level]) sink(`${l.toUpperCase()}[${new Date().toISOString()}] ${msg}`);
  };
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
