import { promises as fsp } from "node:fs";
import { dirname, relative } from "node:path";
import { internal, invalid } from "../core/errors.js";
import { readLayered, resolveLayered } from "./layers.js";
import { run } from "./exec-file.js";

/**
 * Mount the container's root: overlayfs of the image's snapshot dirs (top layer first) and its own upper
 * dir. Lower dirs are given relative to the snapshots dir (the mount runs there) because the whole option
 * string must fit in one page.
 */
export async function mountOverlay(opts: { lowerDirs: string[]; upper: string; work: string; merged: string }): Promise<void> {
  if (await isMountPoint(opts.merged)) return;
  const base = commonParent(opts.lowerDirs);
  const lower = opts.lowerDirs.map((d) => relative(base, d)).join(":");
  const data = `lowerdir=${lower},upperdir=${opts.upper},workdir=${opts.work}`;
  if (data.length > 4000) throw invalid(`image has too many layers to mount (${opts.lowerDirs.length})`);
  const r = await run("mount", ["-t", "overlay", "overlay", "-o", data, opts.merged], { cwd: base });
  if (r.code !== 0) throw internal(`cannot mount the container's root filesystem: ${r.stderr.trim()}`);
}

/** Unmount if mounted; lazy, so a process still holding a file open cannot keep the container alive. */
export async function unmount(path: string): Promise<void> {
  if (!(await isMountPoint(path))) return;
  const r = await run("umount", ["-l", path]);
  if (r.code !== 0 && (await isMountPoint(path))) throw internal(`cannot unmount ${path}: ${r.stderr.trim()}`);
}

export async function isMountPoint(path: string): Promise<boolean> {
  const info = await fsp.readFile("/proc/self/mountinfo", "utf8");
  const want = escapeMountPath(path);
  return info.split("\n").some((l) => l.split(" ")[4] === want);
}

/** Mount points under a dir (for cleanup after a crash). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await fsp.readFile("/proc/self/mountinfo", "utf8");
  const prefix = escapeMountPath(dir.endsWith("/") ? dir : `${dir}/`);
  return info
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(prefix))
    .map(unescapeMountPath);
}

function escapeMountPath(p: string): string {
  return p.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function commonParent(dirs: string[]): string {
  // Snapshot dirs are root/snapshots/<n>/fs: their grandparent is shared.
  const parents = new Set(dirs.map((d) => dirname(dirname(d))));
  return parents.size === 1 ? [...parents][0]! : "/";
}

/**
 * Resolve a path inside a container root as if the root were a chroot (one layer of the layered walk):
 * the host path, or null when a component does not exist.
 */
export async function resolveInRoot(root: string, path: string): Promise<string | null> {
  return (await resolveLayered([root], path))?.path ?? null;
}

/** Read a small file inside a container root (e.g. /etc/passwd), or undefined when absent. */
export async function readInRoot(root: string, path: string): Promise<string | undefined> {
  return readLayered([root], path).catch(() => undefined);
}
