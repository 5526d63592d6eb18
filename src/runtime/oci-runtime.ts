import { existsSync } from "node:fs";
import { join } from "node:path";
import { BerthError, notFound, unavailable } from "../core/errors.js";
import { run } from "./exec-file.js";

export interface RuntimeState {
  status: "creating" | "created" | "running" | "paused" | "stopped";
  pid: number;
}

/**
 * The runc/crun command line driver. conmon runs `create`; everything else goes through here. Both
 * runtimes accept the same verbs and a global `--root` for their state dir.
 */
export class OciRuntime {
  constructor(
    /** Absolute path of the binary. */
    readonly path: string,
    /** The runtime's state dir (its --root), under berth's runroot. */
    readonly stateRoot: string,
  ) {}

  get name(): string {
    return this.path.slice(this.path.lastIndexOf("/") + 1);
  }

  /** Global args every invocation needs; conmon gets them as --runtime-arg. */
  get globalArgs(): string[] {
    return ["--root", this.stateRoot];
  }

  private async call(args: string[], what: string): Promise<string> {
    const r = await run(this.path, [...this.globalArgs, ...args]);
    if (r.code !== 0) throw runtimeError(`${what}`, r.stderr || r.stdout);
    return r.stdout;
  }

  async start(id: string): Promise<void> {
    await this.call(["start", id], "start");
  }

  async kill(id: string, signal: number, all = false): Promise<void> {
    await this.call(["kill", ...(all ? ["--all"] : []), id, String(signal)], "kill");
  }

  async delete(id: string, force = true): Promise<void> {
    // Both runtimes keep one dir per container under --root: no dir, nothing to delete (saves a process).
    if (!existsSync(join(this.stateRoot, id))) return;
    const r = await run(this.path, [...this.globalArgs, "delete", ...(force ? ["--force"] : []), id]);
    if (r.code !== 0 && !/does not exist|not found|no such file/i.test(r.stderr)) throw runtimeError("delete", r.stderr);
  }

  /** The runtime's view, or null when it does not know the container. */
  async state(id: string): Promise<RuntimeState | null> {
    const r = await run(this.path, [...this.globalArgs, "state", id]);
    if (r.code !== 0) {
      if (/does not exist|not found|no such file/i.test(r.stderr)) return null;
      throw runtimeError("state", r.stderr);
    }
    const s = JSON.parse(r.stdout) as { status: RuntimeState["status"]; pid?: number };
    return { status: s.status, pid: s.pid ?? 0 };
  }

  async pause(id: string): Promise<void> {
    await this.call(["pause", id], "pause");
  }

  async resume(id: string): Promise<void> {
    await this.call(["resume", id], "unpause");
  }

  /** `update --resources FILE`: the OCI LinuxResources JSON. */
  async update(id: string, resourcesFile: string): Promise<void> {
    await this.call(["update", "--resources", resourcesFile, id], "update");
  }

  async ps(id: string, psArgs: string[]): Promise<string> {
    // runc passes what follows the ID to ps(1) as is (with "--" too, which procps refuses).
    return this.call(["ps", "--format", "table", id, ...psArgs], "top");
  }

  /** Argument vector for `exec` (the caller spawns it: stdio differs per use). */
  execArgs(id: string, processFile: string, opts: { tty: boolean; detach: boolean; pidFile?: string }): string[] {
    return [
      ...this.globalArgs,
      "exec",
      "--process",
      processFile,
      ...(opts.tty ? ["--tty"] : []),
      ...(opts.detach ? ["--detach"] : []),
      ...(opts.pidFile ? ["--pid-file", opts.pidFile] : []),
      id,
    ];
  }
}

/** runc and crun print logrus-style lines; keep the message only. */
export function runtimeMessage(stderr: string): string {
  const lines = stderr.trim().split("\n").filter(Boolean);
  const msgs = lines.map((l) => {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(l);
    if (m) return m[1]!.replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    return l.replace(/^(ERRO|WARN)\[\d+\]\s*/, "").replace(/^(crun|runc): /, "");
  });
  const last = msgs.filter((m) => !/^(runc|crun) (run|create|exec) failed$/.test(m)).pop() ?? stderr.trim();
  // runc wraps the one useful clause in two layers of context.
  return last.replace(/^(runc|crun) (run|create|exec|start) failed: /, "").replace(/^unable to start container process: /, "").replace(/^error during container init: /, "");
}

/** The exec failures Docker reports as 127 (not found) and 126 (cannot run). */
export function execFailureCode(message: string): 126 | 127 | undefined {
  if (/executable file not found|no such file or directory/i.test(message) && /exec/i.test(message)) return 127;
  if (/permission denied|is a directory|exec format error/i.test(message) && /exec/i.test(message)) return 126;
  return undefined;
}

export function runtimeError(what: string, stderr: string): BerthError {
  const msg = runtimeMessage(stderr);
  if (/does not exist|not found/i.test(msg) && !/exec/i.test(msg)) return notFound(`runtime ${what}: ${msg}`);
  const e = unavailable(`OCI runtime ${what} failed: ${msg}`);
  const code = execFailureCode(msg);
  if (code) Object.assign(e, { exitCode: code });
  return e;
}
