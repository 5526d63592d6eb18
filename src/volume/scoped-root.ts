import { closeSync, constants as C, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from "node:fs";
import { BerthError, internal, invalid, notFound } from "../core/errors.js";

/**
 * A directory tree walked as if it were a chroot, safely against a hostile tree that changes under us (a
 * running container can swap a directory for a symlink at any moment).
 *
 * Node has no openat(2), but /proc/self/fd/N/NAME is one: the kernel jumps straight to the directory that
 * fd N holds (no path is walked again) and looks up NAME in it. So every path is walked one component at a
 * time from open directory fds: symlinks are read and resolved by berth against the tree's root (absolute
 * targets restart at the root, ".." stops there), directories are opened with O_NOFOLLOW, and the final
 * component is only ever used by calls that do not follow a symlink there (lstat, open with O_NOFOLLOW,
 * mkdir, symlink, unlink, lchown). If a symlink is swapped in after a check, the next open fails instead
 * of leaving the tree.
 */
export interface Entry {
  /** An open directory (owned by the ScopedRoot) and a name in it; "." for the directory itself. */
  dirFd: number;
  name: string;
  /** lstat of the entry, undefined when it does not exist (only the last component may be missing). */
  st: Stats | undefined;
}

export const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/** The path through which a syscall reaches `name` in the directory open as `fd`. */
export const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

export const entryPath = (e: Pick<Entry, "dirFd" | "name">): string => at(e.dirFd, e.name);

export function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export class ScopedRoot {
  readonly rootFd: number;
  /** Directory fds handed out in entries; closed together. */
  private readonly held = new Set<number>();

  /** `path` is trusted (a host path berth chose); everything below it is not. `label` names the tree in errors. */
  constructor(
    path: string,
    readonly label: string,
  ) {
    try {
      this.rootFd = openSync(path, C.O_RDONLY | C.O_DIRECTORY);
    } catch (e) {
      throw internal(`cannot open the filesystem of ${label}: ${(e as Error).message}`, e);
    }
    this.held.add(this.rootFd);
  }

  close(): void {
    for (const fd of this.held) closeSync(fd);
    this.held.clear();
  }

  /** Close an entry's directory fd early (long walks such as a tar extraction). */
  release(e: Entry): void {
    if (e.dirFd !== this.rootFd && this.held.delete(e.dirFd)) closeSync(e.dirFd);
  }

  /** The root itself as an entry. */
  rootEntry(): Entry {
    return { dirFd: this.rootFd, name: ".", st: fstatSync(this.rootFd) };
  }

  /**
   * Resolve `path` inside the root. Intermediate symlinks are always followed (inside the root); the last
   * one only with `followLast`. A missing last component is returned with `st` undefined; a missing
   * directory on the way is NOT_FOUND.
   */
  resolve(path: string, followLast: boolean): Entry {
    const todo = path.split("/").filter(Boolean);
    const stack: number[] = [];
    const cur = () => stack.at(-1) ?? this.rootFd;
    const popAll = () => {
      while (stack.length) closeSync(stack.pop()!);
    };
    let hops = 0;
    try {
      while (todo.length) {
        const part = todo.shift()!;
        if (part === ".") continue;
        if (part === "..") {
          if (stack.length) closeSync(stack.pop()!);
          continue;
        }
        const last = todo.length === 0;
        const p = at(cur(), part);
        const st = lstatOrUndefined(p);
        if (!st) {
          if (last) return this.keep(stack, { dirFd: cur(), name: part, st: undefined });
          throw notFound(`${this.label}: ${path}: no such file or directory`);
        }
        if (st.isSymbolicLink() && (!last || followLast)) {
          if (++hops > 40) throw invalid(`${this.label}: ${path}: too many levels of symbolic links`);
          const target = readlinkSync(p);
          if (target.startsWith("/")) popAll();
          todo.unshift(...target.split("/").filter(Boolean));
          continue;
        }
        if (last) return this.keep(stack, { dirFd: cur(), name: part, st });
        if (!st.isDirectory()) throw invalid(`${this.label}: ${path}: not a directory`);
        stack.push(openDir(p, `${this.label}: ${path}`));
      }
      return this.keep(stack, { dirFd: cur(), name: ".", st: fstatSync(cur()) });
    } catch (e) {
      popAll();
      throw e;
    }
  }

  /** Hold the entry's directory fd; close the rest of the walk. */
  private keep(stack: number[], e: Entry): Entry {
    const fd = stack.pop();
    for (const x of stack) closeSync(x);
    if (fd !== undefined) this.held.add(fd);
    return e;
  }

  /** A small regular file (an /etc/passwd), or undefined when absent or not a file. */
  readSmallFile(path: string, max = 16 << 20): string | undefined {
    let e: Entry;
    try {
      e = this.resolve(path, true);
    } catch (err) {
      if (err instanceof BerthError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
    if (!e.st?.isFile() || e.st.size > max) return undefined;
    const fd = openSync(entryPath(e), C.O_RDONLY | C.O_NOFOLLOW);
    try {
      const buf = Buffer.alloc(e.st.size);
      let off = 0;
      while (off < buf.length) {
        const n = readSync(fd, buf, off, buf.length - off, null);
        if (n === 0) break;
        off += n;
      }
      return buf.subarray(0, off).toString("utf8");
    } finally {
      closeSync(fd);
    }
  }
}

/** Open a directory without following a symlink at its last component (a swapped-in symlink fails here). */
export function openDir(p: string, what: string): number {
  try {
    return openSync(p, DIR_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "ENOTDIR") throw invalid(`${what}: changed into a symbolic link or a non-directory while being copied`);
    throw e;
  }
}

/** Open a file or directory for fchmod/fchown without following a symlink there. */
export function openNoFollow(p: string, what: string): number {
  try {
    return openSync(p, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOOP") throw invalid(`${what}: changed into a symbolic link while being copied`);
    throw e;
  }
}
