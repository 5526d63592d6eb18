import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { unavailable } from "../core/errors.js";
import type { ContainerPaths } from "./layout.js";
import { runtimeError } from "./oci-runtime.js";

export const CONMON = "/usr/bin/conmon";

export interface ConmonRequest {
  id: string;
  name: string;
  paths: ContainerPaths;
  exitsDir: string;
  runtimePath: string;
  runtimeArgs: string[];
  tty: boolean;
  stdin: boolean;
  /** argv of the exit command (berth container cleanup ID); conmon runs it after the container exits. */
  exitCommand?: string[];
  /** Whole seconds conmon waits before running the exit command (restart back-off). */
  exitDelay?: number;
  logSizeMax?: number;
}

/**
 * Start conmon for one container. conmon double-forks, so no berth process stays behind: the monitor
 * runs `runtime create`, reports the container's pid (or the runtime's error) on the sync pipe, then
 * waits for the container to exit, writes the exit file and runs the exit command.
 * Resolves once the container is created (not started).
 */
export async function spawnConmon(req: ConmonRequest): Promise<{ pid: number }> {
  const p = req.paths;
  const args = [
    "--api-version", "1",
    "-c", req.id,
    "-u", req.id,
    "-n", req.name,
    "-r", req.runtimePath,
    "-b", p.bundle,
    "-p", p.pidFile,
    "-P", p.conmonPidFile,
    "-l", `k8s-file:${p.log}`,
    "--exit-dir", req.exitsDir,
    "--persist-dir", p.persist,
    "--socket-dir-path", p.bundle,
    "--full-attach",
    "--log-level", "error",
    ...req.runtimeArgs.flatMap((a) => ["--runtime-arg", a]),
    ...(req.tty ? ["-t"] : []),
    ...(req.stdin ? ["-i"] : []),
    ...(req.logSizeMax ? ["--log-size-max", String(req.logSizeMax)] : []),
  ];
  if (req.exitCommand?.length) {
    args.push("--exit-command", req.exitCommand[0]!);
    for (const a of req.exitCommand.slice(1)) args.push("--exit-command-arg", a);
    if (req.exitDelay) args.push("--exit-delay", String(req.exitDelay));
  }
  // A new session: Ctrl-C in the user's terminal must reach berth, not the monitor and the container.
  const child = spawn(CONMON, args, {
    stdio: ["ignore", "ignore", "pipe", "pipe"],
    detached: true,
    // conmon writes some files (an "oom" marker) relative to its cwd: keep them in the bundle.
    cwd: p.bundle,
    env: { ...process.env, _OCI_SYNCPIPE: "3" },
  });
  const stderr: Buffer[] = [];
  child.stderr!.on("data", (b: Buffer) => stderr.push(b));
  const sync = child.stdio[3] as Readable;
  try {
    const msg = await readSyncMessage(sync, child, () => Buffer.concat(stderr).toString().trim());
    if (typeof msg.data === "number" && msg.data > 0) return { pid: msg.data };
    throw runtimeError("create", msg.message ?? (Buffer.concat(stderr).toString() || "conmon reported no pid"));
  } finally {
    sync.destroy();
    child.stderr!.destroy();
    child.unref();
  }
}

interface SyncMessage {
  data?: number;
  message?: string;
}

function readSyncMessage(sync: Readable, child: ReturnType<typeof spawn>, stderr: () => string): Promise<SyncMessage> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (b: Buffer) => {
      buf += b.toString();
      const end = buf.indexOf("}");
      if (end < 0) return;
      try {
        resolve(JSON.parse(buf.slice(0, end + 1)) as SyncMessage);
      } catch {
        reject(unavailable(`conmon sent an unreadable message: ${buf.slice(0, 200)}`));
      }
    };
    sync.on("data", onData);
    sync.on("error", reject);
    sync.on("end", () => {
      if (!buf.includes("}")) reject(unavailable(`conmon exited before the container was created: ${stderr() || "no message"}`));
    });
    child.on("error", (e) => reject(unavailable(`cannot run conmon: ${e.message}`)));
    // The first process exits 0 right after forking the monitor; anything else is a usage or setup error.
    child.on("exit", (code) => {
      if (code) setTimeout(() => reject(unavailable(`conmon failed (exit ${code}): ${stderr() || "no message"}`)), 20);
    });
  });
}
