import { promises as fsp, type Stats } from "node:fs";
import { join } from "node:path";

/**
 * Read a small file from the union of overlay layers without mounting them: `dirs` top first (the
 * container's upper dir, then the image's snapshots). Each path component is looked up from the top
 * layer down; an overlay whiteout (a 0:0 char device) hides the lower ones; symlinks are followed inside
 * the union, chroot-style. Opaque directories (an xattr Node cannot read) are not honoured: a lower
 * layer's file under a directory a higher layer made opaque could show through. Used for /etc/passwd and
 * /etc/group before the container's root exists.
 */
export async function readLayered(dirs: string[], path: string): Promise<string | undefined> {
  const found = await resolveLayered(dirs, path);
  if (!found || !found.st.isFile() || found.st.size > 16 << 20) return undefined;
  return fsp.readFile(found.path, "utf8");
}

/**
 * Resolve a path in the union of `dirs` (top first) chroot-style: absolute symlinks restart at the root and
 * ".." stops there. The host path of the topmost entry and its lstat, or undefined when it does not exist.
 */
export async function resolveLayered(dirs: string[], path: string): Promise<{ path: string; st: Stats } | undefined> {
  const todo = path.split("/").filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  let found: { path: string; st: Stats } | undefined;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    found = await topmost(dirs, [...done, part]);
    if (!found) return undefined;
    if (found.st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = await fsp.readlink(found.path);
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    if (todo.length && !found.st.isDirectory()) return undefined;
    done.push(part);
  }
  // A trailing ".." or a symlink to "/" ends at a directory of the union: report the top one.
  return done.length && found ? found : { path: dirs[0]!, st: await fsp.lstat(dirs[0]!) };
}

async function topmost(dirs: string[], parts: string[]) {
  for (const d of dirs) {
    const p = join(d, ...parts);
    const st = await fsp.lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined; // whiteout
    return { path: p, st };
  }
  return undefined;
}
