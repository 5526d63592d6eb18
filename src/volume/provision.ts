/**
 * What a container's create does to volumes and files after its row exists: seed new, empty volumes with
 * the image's content at their mount point (as Docker does) and copy injected files into the container's
 * own layer. Both read/write the container's root through a private overlay view (see private-view.ts):
 * the kernel honours the image's whiteouts and opaque directories, and writes land in the upper dir with
 * proper copy-up of the directories above them.
 */
import { closeSync, existsSync, fchmodSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { invalid, notFound } from "../core/errors.js";
import { resolveUser } from "../core/spec/user.js";
import type { ContainerOptions, FileInjection, MountOption } from "../core/spec/types.js";
import { copyContents, copyEntry } from "./copy-tree.js";
import { withPrivateOverlay, type OverlayLayers } from "./private-view.js";
import { entryPath, openNoFollow, ScopedRoot, type Entry } from "./scoped-root.js";

/** Checks of host paths before anything is created: bind sources must exist; injected files must exist. */
export function checkHostPaths(o: ContainerOptions): void {
  for (const m of o.mounts ?? []) {
    if (m.type !== "bind" || m.from) continue;
    if (m.source && !existsSync(m.source)) throw notFound(`invalid mount ${m.source}:${m.destination}: the host path ${m.source} does not exist (berth does not create it)`);
  }
  (o.files ?? []).forEach((f, i) => checkFile(f, i));
}

function checkFile(f: FileInjection, i: number): void {
  const what = `files[${i}]`;
  if (typeof f.source !== "string" || !f.source) throw invalid(`${what}: source is required`);
  if (typeof f.destination !== "string" || !f.destination.startsWith("/") || f.destination.replace(/\/+$/, "") === "") throw invalid(`${what}: destination "${String(f.destination)}" must be an absolute path other than /`);
  if (f.mode !== undefined && !(Number.isInteger(f.mode) && f.mode >= 0 && f.mode <= 0o7777)) throw invalid(`${what}: mode must be an integer from 0 to 0o7777`);
  try {
    statSync(f.source);
  } catch (e) {
    throw notFound(`${what}: cannot read the source ${f.source}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
}

/** Volumes to seed: new (empty) volumes of this container, not copied from another, not volume-nocopy. */
function toSeed(o: ContainerOptions, mountpoint: (name: string) => string): MountOption[] {
  return (o.mounts ?? []).filter((m) => m.type === "volume" && m.source && !m.noCopy && !m.from && isEmptyDir(mountpoint(m.source)));
}

function isEmptyDir(p: string): boolean {
  try {
    return readdirSync(p).length === 0;
  } catch {
    return false;
  }
}

export async function provision(layers: OverlayLayers, o: ContainerOptions, mountpoint: (name: string) => string): Promise<void> {
  const seeds = toSeed(o, mountpoint);
  const files = o.files ?? [];
  if (!seeds.length && !files.length) return;
  await withPrivateOverlay(layers, (rootPath) => {
    const view = new ScopedRoot(rootPath, "the container");
    try {
      for (const m of seeds) seed(view, m.destination, mountpoint(m.source!));
      if (files.length) inject(view, files);
    } finally {
      view.close();
    }
  });
}

/** Copy the image's directory at `destination` (if there is one) into the volume, owners and modes kept. */
function seed(view: ScopedRoot, destination: string, dir: string): void {
  let e: Entry;
  try {
    e = view.resolve(destination, true);
  } catch {
    return; // a missing or non-directory parent: nothing to seed from
  }
  if (!e.st?.isDirectory()) return;
  const vol = new ScopedRoot(dir, "the volume");
  try {
    copyContents(e, vol.rootEntry(), { owners: true }, destination);
  } finally {
    vol.close();
  }
}

function inject(view: ScopedRoot, files: FileInjection[]): void {
  const passwd = view.readSmallFile("/etc/passwd");
  const group = view.readSmallFile("/etc/group");
  const host = new ScopedRoot("/", "host");
  try {
    files.forEach((f, i) => {
      const what = `files[${i}] (${f.destination})`;
      let own: { uid: number; gid: number };
      try {
        const u = resolveUser(`${f.owner ?? 0}${f.group !== undefined ? `:${f.group}` : ""}`, passwd, group);
        own = { uid: u.uid, gid: u.gid };
      } catch (e) {
        throw invalid(`${what}: ${(e as Error).message.replace(/^invalid --user "[^"]*": /, "")}`);
      }
      const s = host.resolve(f.source, true);
      if (!s.st) throw notFound(`${what}: the source ${f.source} does not exist`);
      mkdirParents(view, f.destination);
      const d = view.resolve(f.destination, true);
      const opts = { owners: false, chown: own };
      if (s.st.isDirectory()) {
        if (d.st && !d.st.isDirectory()) throw invalid(`${what}: cannot copy the directory ${f.source} over a file`);
        if (!d.st) mkdirSync(entryPath(d), { mode: 0o700 });
        copyContents(s, d, opts, f.source);
      } else {
        if (d.st?.isDirectory()) throw invalid(`${what}: the destination is a directory in the image; name the file itself`);
        copyEntry(s, d, opts, f.source);
      }
      if (f.mode !== undefined && !lstatSync(entryPath(d)).isSymbolicLink()) {
        const fd = openNoFollow(entryPath(d), what);
        try {
          fchmodSync(fd, f.mode);
        } finally {
          closeSync(fd);
        }
      }
    });
  } finally {
    host.close();
  }
}

/** mkdir -p of the parents of `path` inside the view (root-owned, 0755, as Docker's cp does). */
function mkdirParents(view: ScopedRoot, path: string): void {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const p = `/${parts.slice(0, i).join("/")}`;
    const e = view.resolve(p, true);
    if (!e.st) mkdirSync(entryPath(e), { mode: 0o755 });
    else if (!e.st.isDirectory()) throw invalid(`${path}: ${p} is not a directory in the container`);
  }
}
