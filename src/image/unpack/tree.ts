import { invalid } from "../../core/errors.js";
import { displayName } from "./paths.js";

/*
 * In-memory model of what one layer extraction has put into its (initially empty) target dir.
 *
 * We are the only writer of the target while extracting, so this model is the truth about the tree.
 * Every path handed to the file system is built from model nodes whose every ancestor is a directory we
 * created ourselves, never a symlink; the last component is never followed (O_NOFOLLOW, lchown, lutimes,
 * mkdir/symlink/link/mknod fail rather than follow). That, not string checks, is what keeps extraction
 * inside the target. It also saves an lstat per path component.
 *
 * Symlink policy: an entry path (or hardlink target) whose intermediate component is a symlink created
 * earlier in this layer is resolved INSIDE the target, as if the target were a chroot: an absolute link
 * text restarts at the target root and ".." stops at the target root. Nothing is ever resolved through
 * the host. Missing directories on the resolved path are created (they may exist in a lower layer; in
 * the stacked overlay the new dir merges with it, which is what writing through the link in a container
 * would have produced). More than 40 link hops is an error, like ELOOP.
 */

export type NodeKind = "dir" | "file" | "symlink" | "special" | "whiteout";

export class Node {
  readonly path: string;
  children: Map<string, Node> | null;
  alive = true;
  /** Symlink text (byte string). */
  target = "";
  /** A dir marked opaque (trusted.overlay.opaque=y). */
  opaque = false;
  /** Created on disk yet? Special files and whiteouts are created in a batch later. */
  created = true;
  /** Xattrs to set at the end of the layer. */
  xattrs: Map<string, Buffer> | null = null;
  /** For dirs: owner group and whether setgid is set, to predict the group of new children. */
  gid = 0;
  sgid = false;
  /** Deferred metadata: special files (after mknod) and dirs (mtime, after all children). */
  meta: { uid: number; gid: number; mode: number; mtime: number; atime: number } | null = null;
  /** For specials: what to mknod. */
  dev: { type: "c" | "b" | "p"; major: number; minor: number; mode: number } | null = null;

  constructor(
    readonly name: string,
    readonly parent: Node | null,
    readonly kind: NodeKind,
  ) {
    this.path = parent === null ? "" : parent.path === "" ? name : parent.path + "/" + name;
    this.children = kind === "dir" ? new Map() : null;
  }

  get depth(): number {
    let d = 0;
    for (let n = this.parent; n; n = n.parent) d++;
    return d;
  }
}

/** The effect the resolver needs when a directory on the way is missing or is a whiteout: make a dir there. */
export type MakeDir = (parent: Node, name: string, replacing: Node | null) => Node;

const MAX_LINK_HOPS = 40;

export class Tree {
  readonly root = new Node("", null, "dir");

  /**
   * Resolve a directory path (components of a normalised entry path, minus the last) to a dir node,
   * following symlinks inside the root as described above. With `makeDir`, missing dirs (and whiteouts
   * in the way) become dirs; without it, a missing component yields null.
   */
  resolveDir(components: readonly string[], entryName: string, makeDir: MakeDir | null): Node | null {
    let cur = this.root;
    let queue = components.slice();
    let hops = 0;
    let i = 0;
    while (i < queue.length) {
      const c = queue[i++]!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        cur = cur.parent ?? cur;
        continue;
      }
      const n = cur.children!.get(c);
      if (n === undefined || n.kind === "whiteout") {
        if (!makeDir) return null;
        cur = makeDir(cur, c, n ?? null);
        continue;
      }
      if (n.kind === "dir") {
        cur = n;
        continue;
      }
      if (n.kind === "symlink") {
        if (++hops > MAX_LINK_HOPS) throw invalid(`layer entry ${displayName(entryName)}: too many levels of symbolic links`);
        const rest = queue.slice(i);
        queue = [...n.target.split("/"), ...rest];
        i = 0;
        if (n.target.startsWith("/")) cur = this.root;
        continue;
      }
      throw invalid(`layer entry ${displayName(entryName)}: ${displayName(n.path)} is not a directory`);
    }
    return cur;
  }

  /** Mark a node and everything below it as gone from the model (the caller removed it on disk). */
  kill(n: Node): void {
    n.alive = false;
    const siblings = n.parent?.children;
    if (siblings && siblings.get(n.name) === n) siblings.delete(n.name);
    if (n.children) {
      const stack = [...n.children.values()];
      while (stack.length) {
        const c = stack.pop()!;
        c.alive = false;
        if (c.children) stack.push(...c.children.values());
      }
    }
  }

  /** Attach a new node under `parent` (the caller made sure the name is free). */
  add(parent: Node, name: string, kind: NodeKind): Node {
    const n = new Node(name, parent, kind);
    parent.children!.set(name, n);
    return n;
  }
}
