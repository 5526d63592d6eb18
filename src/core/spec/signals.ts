/**
 * Linux signal names and numbers (the generic numbering used by x86_64 and arm64), accepting the spellings
 * Docker and Podman accept for --stop-signal, STOPSIGNAL and `kill --signal`.
 */
import { invalid } from "../errors.js";

const NAMES: readonly string[] = [
  "", // 0 is not a signal
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1", // 10
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM", // 15
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP", // 20
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ", // 25
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR", // 30
  "SIGSYS",
];

/** Other names of the same numbers. */
const ALIASES: Record<string, number> = { SIGIOT: 6, SIGPOLL: 29, SIGCLD: 17, SIGUNUSED: 31 };

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

const BY_NAME = new Map<string, number>([...NAMES.map((n, i) => [n, i] as [string, number]).slice(1), ...Object.entries(ALIASES)]);

/**
 * "SIGTERM", "TERM", "term", "15", 15, "SIGRTMIN+3", "RTMIN+3", "SIGRTMAX-1" -> the signal number.
 * Anything else (including 0 and numbers above SIGRTMAX) throws INVALID_ARGUMENT.
 */
export function parseSignal(s: string | number): number {
  const bad = () => invalid(`invalid signal "${String(s)}"`);
  if (typeof s === "number") {
    if (Number.isInteger(s) && s >= 1 && s <= SIGRTMAX) return s;
    throw bad();
  }
  const t = s.trim();
  if (/^[0-9]+$/.test(t)) return parseSignal(Number(t));
  let up = t.toUpperCase();
  if (!up.startsWith("SIG")) up = `SIG${up}`;
  const known = BY_NAME.get(up);
  if (known !== undefined) return known;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])([0-9]+))?$/.exec(up);
  if (rt) {
    const base = rt[1] === "MIN" ? SIGRTMIN : SIGRTMAX;
    const off = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === "-" ? -1 : 1);
    const n = base + off;
    // 32 and 33 are real-time signals glibc keeps for itself; the kernel still delivers them.
    if (n >= 32 && n <= SIGRTMAX) return n;
  }
  throw bad();
}

/** 15 -> "SIGTERM"; real-time signals as "SIGRTMIN+n" (SIGRTMAX for 64; glibc's private 32 and 33 as SIGRTMIN-2/-1). */
export function signalName(n: number): string {
  if (Number.isInteger(n) && n >= 1 && n < NAMES.length) return NAMES[n]!;
  if (n === SIGRTMIN) return "SIGRTMIN";
  if (n === SIGRTMAX) return "SIGRTMAX";
  if (Number.isInteger(n) && n > SIGRTMIN && n < SIGRTMAX) return `SIGRTMIN+${n - SIGRTMIN}`;
  if (n === 32 || n === 33) return `SIGRTMIN-${SIGRTMIN - n}`;
  throw invalid(`invalid signal "${String(n)}"`);
}
