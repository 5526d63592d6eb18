/**
 * `cp CTR:SRC -` and `cp - CTR:DST`: tar streams out of and into a container tree, with the same
 * ScopedRoot walking as a plain copy (a symlink in the container is archived as a symlink, and extraction
 * never follows one).
 */
import { closeSync, constants as C, createReadStream, fchmodSync, fchownSync, futimesSync, lchownSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync, symlinkSync, unlinkSync, writeSync, type Stats } from "node:fs";
import { posix } from "node:path";
import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { conflict, invalid, notFound } from "../core/errors.js";
import { entryPath, lstatOrUndefined, openDir, openNoFollow, type Entry, type ScopedRoot } from "./scoped-root.js";

type TarStream = typeof import("tar-stream");

async function tarStream(): Promise<TarStream> {
  const m = (await import("tar-stream")) as unknown as TarStream & { default?: TarStream };
  return m.default ?? m;
}

/** Write a tar of `path` (named by its base name, as `docker cp` does) to `out`. */
export async function packTree(root: ScopedRoot, path: string, out: Writable, o: { followLink?: boolean } = {}): Promise<void> {
  const tar = await tarStream();
  const e = root.resolve(path, !!o.followLink || /\/\.?$/.test(path));
  if (!e.st) throw notFound(`${root.label}: ${path}: no such file or directory`);
  const pack = tar.pack();
  pack.pipe(out);
  const done = finished(out).catch(() => undefined);
  const base = e.name === "." ? posix.basename(posix.normalize(`/${path}`)) || "." : e.name;
  await packEntry(pack, e, e.st, base);
  pack.finalize();
  await done;
}

type Pack = ReturnType<TarStream["pack"]>;

async function packEntry(pack: Pack, e: Pick<Entry, "dirFd" | "name">, st: Stats, name: string): Promise<void> {
  const header = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
  const p = entryPath(e);
  if (st.isDirectory()) {
    await entry(pack, { ...header, name: `${name}/`, type: "directory" });
    const fd = openDir(p, name);
    try {
      for (const n of readdirSync(`/proc/self/fd/${fd}`).sort()) {
        const cst = lstatOrUndefined(`/proc/self/fd/${fd}/${n}`);
        if (cst) await packEntry(pack, { dirFd: fd, name: n }, cst, `${name}/${n}`);
      }
    } finally {
      closeSync(fd);
    }
  } else if (st.isSymbolicLink()) {
    await entry(pack, { ...header, type: "symlink", linkname: readlinkSync(p) });
  } else if (st.isFile()) {
    const fd = openSync(p, C.O_RDONLY | C.O_NOFOLLOW);
    const w = pack.entry({ ...header, type: "file", size: st.size });
    const r = createReadStream("", { fd, autoClose: true });
    r.pipe(w);
    await finished(w);
  }
  // Devices, fifos and sockets are left out.
}

function entry(pack: Pack, header: Parameters<Pack["entry"]>[0]): Promise<void> {
  return new Promise((res, rej) => pack.entry(header, (err) => (err ? rej(err) : res())));
}

/** Extract a tar from `input` into the existing directory `path` of the tree. */
export async function extractInto(root: ScopedRoot, path: string, input: Readable, o: { owners: boolean }): Promise<void> {
  const tar = await tarStream();
  const d = root.resolve(path, true);
  if (!d.st) throw notFound(`${root.label}: destination directory ${path} does not exist`);
  if (!d.st.isDirectory()) throw invalid(`${root.label}: ${path}: a tar stream extracts into a directory`);
  const base = `${path.replace(/\/+$/, "")}`;
  const dirs: { path: string; mode: number; uid: number; gid: number; mtime: Date }[] = [];
  const ex = tar.extract();
  input.pipe(ex);
  for await (const ent of ex) {
    const h = ent.header;
    const rel = posix.normalize(h.name).replace(/^(\.\/|\/)+/, "").replace(/\/$/, "");
    if (rel === "" || rel === ".") {
      ent.resume();
      continue;
    }
    if (rel.split("/").includes("..")) throw invalid(`tar entry "${h.name}" leaves the destination directory`);
    const target = `${base}/${rel}`;
    const t = root.resolve(target, false);
    try {
      await writeEntry(t, target, h, ent as unknown as AsyncIterable<Buffer> & { resume(): unknown }, o, dirs);
    } finally {
      root.release(t);
    }
  }
  // Directory modes and times last (a read-only directory must still take its children).
  for (const dir of dirs.reverse()) {
    const e = root.resolve(dir.path, false);
    if (!e.st?.isDirectory()) continue;
    const fd = openNoFollow(entryPath(e), dir.path);
    try {
      if (dir.uid >= 0) fchownSync(fd, dir.uid, dir.gid);
      fchmodSync(fd, dir.mode);
      futimesSync(fd, dir.mtime, dir.mtime);
    } finally {
      closeSync(fd);
      root.release(e);
    }
  }
}

type TarHeader = { name: string; type?: string | null; mode?: number | null; uid?: number | null; gid?: number | null; mtime?: Date | null; linkname?: string | null };

async function writeEntry(t: Entry, target: string, h: TarHeader, ent: AsyncIterable<Buffer> & { resume(): unknown }, o: { owners: boolean }, dirs: { path: string; mode: number; uid: number; gid: number; mtime: Date }[]): Promise<void> {
    const p = entryPath(t);
    const own = o.owners ? { uid: h.uid ?? 0, gid: h.gid ?? 0 } : undefined;
    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = h.mtime ?? new Date();
    if (h.type === "directory") {
      if (t.st && !t.st.isDirectory()) throw conflict(`cannot overwrite non-directory ${target} with a directory`);
      if (!t.st) mkdirSync(p, { mode: 0o700 });
      dirs.push({ path: target, mode, uid: own?.uid ?? -1, gid: own?.gid ?? -1, mtime });
      ent.resume();
    } else if (h.type === "symlink") {
      if (t.st?.isDirectory()) throw conflict(`cannot overwrite directory ${target} with a symlink`);
      if (t.st) unlinkSync(p);
      symlinkSync(h.linkname ?? "", p);
      if (own) lchownSync(p, own.uid, own.gid);
      lutimesSync(p, mtime, mtime);
      ent.resume();
    } else if (h.type === "file" || h.type === "contiguous-file") {
      if (t.st?.isDirectory()) throw conflict(`cannot overwrite directory ${target} with a file`);
      if (t.st) unlinkSync(p);
      const fd = openSync(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of ent as AsyncIterable<Buffer>) {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        }
        if (own) fchownSync(fd, own.uid, own.gid);
        fchmodSync(fd, mode);
        futimesSync(fd, mtime, mtime);
      } finally {
        closeSync(fd);
      }
    } else {
      ent.resume(); // hard links, devices, fifos: left out
    }
  }
