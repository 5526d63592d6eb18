import {
  closeSync,
  constants as C,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { conflict, invalid, notFound } from "../core/errors.js";
import { entryPath, lstatOrUndefined, openDir, type Entry, type ScopedRoot } from "./scoped-root.js";

export interface CopyTreeOptions {
  /** Keep owners (uid/gid) of what is copied: only root can, and berth does when it runs as root. */
  owners: boolean;
  /** Give everything copied this owner instead (file injection). */
  chown?: { uid: number; gid: number };
  /** Paths not copied (sockets, devices, fifos: Node cannot make them), for a warning. */
  skipped?: string[];
}

type Ref = Pick<Entry, "dirFd" | "name">;

/**
 * Copy one entry (file, symlink or directory tree) to `dst`, replacing a non-directory there and merging
 * into a directory there. Modes, times and (with `owners`) owners are kept; symlinks are copied as
 * symlinks, never followed. Every access goes through directory fds (see ScopedRoot), so neither side can
 * be redirected out of its tree by a symlink.
 */
export function copyEntry(src: Ref, dst: Ref, o: CopyTreeOptions, shown = src.name): void {
  const sp = entryPath(src);
  const st = lstatOrUndefined(sp);
  if (!st) return; // vanished meanwhile
  const dp = entryPath(dst);
  const existing = lstatOrUndefined(dp);
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) throw conflict(`cannot overwrite non-directory ${shown} with a directory`);
    if (!existing) mkdirSync(dp, { mode: 0o700 });
    const sfd = openDir(sp, shown);
    try {
      const dfd = openDir(dp, shown);
      try {
        for (const n of readdirSync(`/proc/self/fd/${sfd}`)) copyEntry({ dirFd: sfd, name: n }, { dirFd: dfd, name: n }, o, `${shown}/${n}`);
        applyMeta(dfd, st, o);
      } finally {
        closeSync(dfd);
      }
    } finally {
      closeSync(sfd);
    }
    return;
  }
  if (existing?.isDirectory()) throw conflict(`cannot overwrite directory ${shown} with a non-directory`);
  if (st.isFile()) {
    const sfd = openSync(sp, C.O_RDONLY | C.O_NOFOLLOW);
    try {
      if (existing) unlinkSync(dp);
      const dfd = openSync(dp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      try {
        pump(sfd, dfd);
        applyMeta(dfd, st, o);
      } finally {
        closeSync(dfd);
      }
    } finally {
      closeSync(sfd);
    }
    return;
  }
  if (st.isSymbolicLink()) {
    const target = readlinkSync(sp);
    if (existing) unlinkSync(dp);
    symlinkSync(target, dp);
    const own = o.chown ?? (o.owners ? { uid: st.uid, gid: st.gid } : undefined);
    if (own) lchownSync(dp, own.uid, own.gid);
    lutimesSync(dp, st.atime, st.mtime);
    return;
  }
  o.skipped?.push(shown);
}

/** Copy the children of directory `src` into directory `dst` and give `dst` the source's mode, times, owner. */
export function copyContents(src: Ref, dst: Ref, o: CopyTreeOptions, shown = src.name): void {
  const sfd = openDir(entryPath(src), shown);
  try {
    const dfd = openDir(entryPath(dst), shown);
    try {
      for (const n of readdirSync(`/proc/self/fd/${sfd}`)) copyEntry({ dirFd: sfd, name: n }, { dirFd: dfd, name: n }, o, `${shown}/${n}`);
      applyMeta(dfd, lstatOrUndefined(`/proc/self/fd/${sfd}/.`)!, o);
    } finally {
      closeSync(dfd);
    }
  } finally {
    closeSync(sfd);
  }
}

function applyMeta(fd: number, st: Stats, o: CopyTreeOptions): void {
  const own = o.chown ?? (o.owners ? { uid: st.uid, gid: st.gid } : undefined);
  // chown first: it clears set-id bits that the chmod then sets again.
  if (own) fchownSync(fd, own.uid, own.gid);
  fchmodSync(fd, st.mode & 0o7777);
  futimesSync(fd, st.atime, st.mtime);
}

function pump(from: number, to: number): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = readSync(from, buf, 0, buf.length, null);
    if (n === 0) return;
    let off = 0;
    while (off < n) off += writeSync(to, buf, off, n - off);
  }
}

export interface CopyEnd {
  root: ScopedRoot;
  /** The path as the user wrote it (trailing "/" and "/." matter, as in `docker cp`). */
  path: string;
}

/**
 * `docker cp` semantics between two trees:
 * - SRC a file: DST missing -> created (its parent must exist); DST a directory -> DST/basename(SRC);
 *   DST a file -> overwritten. DST ending in "/" must be an existing directory.
 * - SRC a directory: DST missing -> created as a copy of SRC; DST a directory -> DST/basename(SRC), or
 *   SRC's contents merged into DST when SRC ends in "/."; DST a file -> error.
 * - SRC a symlink is copied as a symlink unless `followLink` (or SRC ends in "/"). DST symlinks are followed,
 *   inside DST's tree.
 */
export function copyPath(src: CopyEnd, dst: CopyEnd, o: CopyTreeOptions & { followLink?: boolean }): void {
  const srcDirRef = /\/\.?$/.test(src.path) || /(^|\/)\.$/.test(src.path);
  const s = src.root.resolve(src.path, !!o.followLink || srcDirRef);
  if (!s.st) throw notFound(`${src.root.label}: ${src.path}: no such file or directory`);
  const srcIsDir = s.st.isDirectory();
  if (/\/$/.test(src.path) && !srcIsDir) throw invalid(`${src.root.label}: ${src.path}: not a directory`);
  const contentsOnly = srcIsDir && (/(^|\/)\.$/.test(src.path) || s.name === ".");
  const d = dst.root.resolve(dst.path, true);
  if (d.st && d.st.isDirectory()) {
    if (contentsOnly) return copyContents(s, d, o, src.path);
    if (d.name === ".") return copyEntry(s, { dirFd: d.dirFd, name: s.name }, o, src.path);
    const fd = openDir(entryPath(d), dst.path);
    try {
      return copyEntry(s, { dirFd: fd, name: s.name }, o, src.path);
    } finally {
      closeSync(fd);
    }
  }
  if (d.st) {
    if (srcIsDir) throw conflict(`cannot copy directory ${src.path} onto the file ${dst.path}`);
    return copyEntry(s, d, o, src.path);
  }
  if (/\/\.?$/.test(dst.path)) throw notFound(`${dst.root.label}: destination directory ${dst.path} does not exist`);
  if (contentsOnly) {
    mkdirSync(entryPath(d), { mode: 0o700 });
    return copyContents(s, d, o, src.path);
  }
  copyEntry(s, d, o, src.path);
}

