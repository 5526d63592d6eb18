import { spawn } from "node:child_process";
import { dirname, relative } from "node:path";
import { internal, invalid } from "../core/errors.js";

export interface OverlayLayers {
  /** The image's snapshot dirs, top first. */
  lowerDirs: string[];
  /** The container's upper and work dirs: writes through the view land in its upper layer. */
  upper: string;
  work: string;
  /** An existing empty directory to mount on (inside the helper's namespace only). */
  mountpoint: string;
}

/**
 * Run `fn` with the container's root filesystem (its upper layer over the image's layers) mounted for
 * berth alone: a helper process (`unshare -m` + `sh`) mounts the overlay in a private mount namespace of
 * its own, and `fn` reaches it through /proc/<helper>/root. The kernel does the union (whiteouts, opaque
 * directories, copy-up on write). Nothing is mounted on the host: when the helper exits (we close its
 * stdin, or berth dies and the pipe closes) its namespace and the mount go with it, so no crash can leak a
 * mount. Used for a stopped container's `cp`, volume seeding and file injection at create.
 */
export async function withPrivateOverlay<T>(l: OverlayLayers, fn: (root: string) => Promise<T> | T): Promise<T> {
  // Lower dirs relative to their shared parent (the mount runs there): the whole option string must fit
  // in one page.
  const parents = new Set(l.lowerDirs.map((d) => dirname(dirname(d))));
  const base = parents.size === 1 ? [...parents][0]! : "/";
  const data = `lowerdir=${l.lowerDirs.map((d) => relative(base, d) || ".").join(":")},upperdir=${l.upper},workdir=${l.work}`;
  if (data.length > 4000) throw invalid(`the image has too many layers to mount (${l.lowerDirs.length})`);
  const script = 'cd "$1" && mount -t overlay overlay -o "$2" "$3" && echo ready && read _';
  const child = spawn("unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "berth-view", base, data, l.mountpoint], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((res) => {
    child.on("close", (code) => res(code ?? -1));
    child.on("error", (e) => {
      stderr += e.message;
      res(-1);
    });
  });
  const ready = await new Promise<boolean>((res) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) res(true);
    });
    void exited.then(() => res(false));
  });
  if (!ready || !child.pid) throw internal(`cannot mount the container's filesystem: ${stderr.trim() || "the helper exited"}`);
  try {
    return await fn(`/proc/${child.pid}/root${l.mountpoint}`);
  } finally {
    child.stdin.end();
    await exited;
  }
}
