import { spawn } from "node:child_process";
import { Launcher } from "./launcher.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

let launcher: Launcher | undefined;
let launcherUsers = 0;

/**
 * Run `fn` with run()'s helpers started by a launcher shell (launcher.ts says why): for bulk work such as
 * a lab deploy. Nested and concurrent calls share one shell, which ends with the last of them.
 */
export async function withLauncher<T>(fn: () => Promise<T>): Promise<T> {
  if (launcherUsers++ === 0 && !process.env.BERTH_NO_LAUNCHER) {
    try {
      launcher = new Launcher();
    } catch {
      // No place for its job files (no writable /dev/shm or tmpdir): helpers are spawned directly.
      launcher = undefined;
    }
  }
  try {
    return await fn();
  } finally {
    if (--launcherUsers === 0) {
      const l = launcher;
      launcher = undefined;
      await l?.close();
    }
  }
}

/** Run a helper binary to completion, capturing output. Never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  if (launcher && opts.cwd === undefined && opts.env === undefined && launcher.accepts(cmd, args)) return launcher.run(cmd, args, opts.input);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout!.on("data", (b: Buffer) => out.push(b));
    p.stderr!.on("data", (b: Buffer) => err.push(b));
    p.on("error", reject);
    p.on("close", (code, sig) => resolve({ code: code ?? 128 + (sig ? 9 : 0), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    // A helper that exits without reading its input (nsenter into a missing netns) must not crash us:
    // its exit code and stderr report the failure.
    p.stdin?.on("error", () => undefined);
    if (opts.input !== undefined) p.stdin!.end(opts.input);
  });
}
