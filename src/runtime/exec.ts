import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { BerthError, invalid } from "../core/errors.js";
import { lazyCrypto } from "../core/lazy.js";
import type { HostFacts, ResolvedUser, RuntimeSpec, SpecProcess } from "../core/spec/types.js";
import type { ExecOptions } from "../engine/container-types.js";
import type { ContainerPaths } from "./layout.js";
import { resolveInRoot } from "./rootfs.js";
import { run } from "./exec-file.js";
import type { OciRuntime } from "./oci-runtime.js";

export interface ExecRequest {
  runtime: OciRuntime;
  id: string;
  /** Host path of the container's root (/proc/<pid>/root). */
  root: string;
  paths: ContainerPaths;
  /** The container's spec: an exec gets the same caps, seccomp, AppArmor label and env as PID 1. */
  base: RuntimeSpec;
  user: ResolvedUser | undefined;
  opts: ExecOptions;
  hostFacts: HostFacts;
}

function execError(code: 126 | 127, msg: string): BerthError {
  return Object.assign(invalid(msg), { exitCode: code });
}

/** Merge KEY=VALUE lists; later wins, first position kept. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const m = new Map<string, string>();
  for (const kv of [...base, ...extra]) {
    const i = kv.indexOf("=");
    const k = i < 0 ? kv : kv.slice(0, i);
    if (i < 0) {
      const v = process.env[k];
      if (v !== undefined) m.set(k, `${k}=${v}`);
      continue;
    }
    m.set(k, kv);
  }
  return [...m.values()];
}

/**
 * Find the command the way the runtime's exec would (PATH of the exec's env, inside the container root),
 * so "not found" and "not executable" come back as Docker's 127 and 126 with a clean message rather than
 * as runc's log line. The runtime still does the real lookup.
 */
async function checkExecutable(root: string, cmd: string, env: string[]): Promise<void> {
  const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const candidates = cmd.includes("/") ? [cmd] : path.split(":").filter(Boolean).map((d) => `${d}/${cmd}`);
  let sawNonExec = false;
  for (const c of candidates) {
    const host = await resolveInRoot(root, c.startsWith("/") ? c : `/${c}`);
    if (!host) continue;
    const st = await fsp.stat(host).catch(() => undefined);
    if (!st) continue;
    if (st.isFile() && st.mode & 0o111) return;
    sawNonExec = true;
  }
  if (sawNonExec) throw execError(126, `exec "${cmd}": permission denied`);
  throw execError(127, `exec "${cmd}": executable file not found in $PATH`);
}

export async function execInContainer(r: ExecRequest): Promise<number> {
  const { opts, base } = r;
  if (!opts.cmd.length) throw invalid("exec needs a command");
  const env = mergeEnv(base.process.env, opts.env ?? []);
  await checkExecutable(r.root, opts.cmd[0]!, env);
  const proc: SpecProcess = {
    ...base.process,
    terminal: !!opts.tty,
    args: opts.cmd,
    env: opts.tty && !env.some((e) => e.startsWith("TERM=")) ? [...env, "TERM=xterm"] : env,
    cwd: opts.workdir ?? base.process.cwd,
    ...(r.user ? { user: { uid: r.user.uid, gid: r.user.gid, additionalGids: r.user.additionalGids } } : {}),
  };
  delete proc.consoleSize;
  if (opts.privileged && proc.capabilities) {
    const all = proc.capabilities.bounding;
    proc.capabilities = { bounding: all, effective: all, permitted: all };
  }
  const file = join(r.paths.bundle, `exec-${lazyCrypto().randomBytes(6).toString("hex")}.json`);
  await fsp.writeFile(file, JSON.stringify(proc));
  try {
    const args = r.runtime.execArgs(r.id, file, { tty: !!opts.tty, detach: !!opts.detach });
    if (opts.detach) {
      const res = await run(r.runtime.path, args);
      if (res.code !== 0) throw invalid(`exec failed: ${res.stderr.trim()}`);
      return 0;
    }
    return await new Promise<number>((resolve, reject) => {
      const streams = opts.stdio === "inherit" ? undefined : opts.stdio;
      const child = spawn(r.runtime.path, args, {
        stdio: streams ? [streams.stdin ? "pipe" : "ignore", "pipe", "pipe"] : "inherit",
      });
      if (streams) {
        if (streams.stdin && child.stdin) streams.stdin.pipe(child.stdin);
        child.stdout!.pipe(streams.stdout, { end: false });
        child.stderr!.pipe(streams.stderr, { end: false });
      }
      child.on("error", reject);
      child.on("close", (code, sig) => {
        streams?.stdin?.unpipe();
        resolve(code ?? 128 + (sig === "SIGKILL" ? 9 : 15));
      });
    });
  } finally {
    await fsp.rm(file, { force: true });
  }
}
