import { spawn } from "node:child_process";
import { lstatSync } from "node:fs";
import { internal, invalid, precondition } from "../../core/errors.js";
import { displayName } from "./paths.js";

/*
 * Deferred, batched operations. Node has no mknod(2) or setxattr(2), and one process per device node or
 * per xattr would dominate extraction time, so each layer runs at most one `sh` (mknod) and one
 * `setfattr --restore` at its end. Both take paths relative to the target, run with cwd = target.
 */

/**
 * Re-checks the real file system, right before a batch runs, that every ancestor of a path below the
 * root is a directory and not a symlink. The model in tree.ts should already guarantee that; this is
 * the belt to its braces, because mknod and setfattr resolve their paths themselves.
 */
export class AncestorGuard {
  private readonly ok = new Set<string>();
  constructor(private readonly rootBytes: string) {}

  abs(rel: string): Buffer {
    return Buffer.from(rel === "" ? this.rootBytes : this.rootBytes + "/" + rel, "latin1");
  }

  checkAncestors(rel: string): void {
    let idx = -1;
    while ((idx = rel.indexOf("/", idx + 1)) !== -1) {
      const dir = rel.slice(0, idx);
      if (this.ok.has(dir)) continue;
      const st = lstatSync(this.abs(dir), { throwIfNoEntry: false });
      if (!st || !st.isDirectory()) throw internal(`refusing a deferred operation on ${displayName(rel)}: ${displayName(dir)} is no longer a directory`);
      this.ok.add(dir);
    }
  }

  /** lstat of the path itself (never followed). */
  lstat(rel: string) {
    return lstatSync(this.abs(rel), { throwIfNoEntry: false });
  }
}

/** Run a helper with `input` on stdin; reject with its first stderr line when it fails. */
export function runHelper(cmd: string, args: string[], input: Buffer, cwd: string, what: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["pipe", "ignore", "pipe"], signal });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.stdin!.on("error", () => {
      /* reported through exit status */
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") reject(precondition(`${cmd} is not installed; it is needed to ${what}`, err));
      else if (err.name === "AbortError") reject(signal?.reason ?? err);
      else reject(internal(`running ${cmd} to ${what}: ${err.message}`, err));
    });
    child.on("close", (code, sig) => {
      if (code === 0) return resolve();
      if (signal?.aborted) return reject(signal.reason);
      const line = stderr.split("\n").find((l) => l.trim() !== "") ?? `exit ${code ?? sig}`;
      // A failure here is the layer's doing (e.g. an xattr the file system refuses) far more often than ours.
      reject(invalid(`could not ${what}: ${line.trim()}`));
    });
    child.stdin!.end(input);
  });
}
