import { createHash } from "node:crypto";
import * as fs from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Digest } from "../../core/digest.js";
import { BerthError, internal, invalid, precondition, unavailable } from "../../core/errors.js";
import { AncestorGuard, runHelper } from "./batch.js";
import { decompressor, type Decompressor } from "./decompress.js";
import { classifyWhiteout, displayName, escapeDumpPath, isAcceptableXattrName, isOverlayPrivateXattr, normalizeEntryPath, shQuote } from "./paths.js";
import { TarReader, TarType, type TarEntry, type TarSink } from "./tar-reader.js";
import { Node, Tree } from "./tree.js";

export interface ApplyOptions {
  compression: "none" | "gzip" | "zstd";
  /** When given, the uncompressed stream must hash to it, else INVALID_ARGUMENT naming both digests. */
  expectedDiffId?: Digest;
  signal?: AbortSignal;
}

export interface ApplyResult {
  diffId: Digest;
  /** Bytes of regular file content written (hardlinks not counted twice). */
  size: number;
}

/**
 * Extract one layer tar into `target` (an existing, empty dir) as an overlayfs lower dir: OCI whiteouts
 * become overlayfs whiteouts (char 0:0) and opaque dirs (trusted.overlay.opaque=y).
 *
 * The source is the blob as downloaded; it is read to its very end (the caller hashes it on the way).
 * On any error this throws and the caller removes `target`, which may be left half-written; nothing is
 * ever written outside it. On error the source is destroyed.
 */
export async function applyLayer(source: Readable, target: string, opts: ApplyOptions): Promise<ApplyResult> {
  const signal = opts.signal;
  let ex: Extractor;
  let dec: Decompressor;
  try {
    signal?.throwIfAborted();
    ex = await Extractor.open(target, signal);
    dec = decompressor(opts.compression);
  } catch (err) {
    source.destroy();
    throw err;
  }
  // The caller's own stream failing (network, its digest check) is its error: passed through unchanged.
  let sourceError: unknown = null;
  source.once("error", (e) => (sourceError = e));
  const hash = createHash("sha256");
  const reader = new TarReader(ex);
  const consume = async (input: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of input) {
      hash.update(chunk);
      if (!reader.done) await reader.write(chunk);
    }
    // zstd reports a corrupt blob by its exit status after its output ended: check that first.
    await dec.finished();
    reader.end();
  };
  try {
    await (pipeline as (...args: unknown[]) => Promise<void>)(source, ...dec.stages, consume, { signal });
    const diffId = `sha256:${hash.digest("hex")}` as Digest;
    if (opts.expectedDiffId && opts.expectedDiffId !== diffId) {
      throw invalid(`layer content does not match its diff_id: expected ${opts.expectedDiffId}, got ${diffId}`);
    }
    await ex.finish();
    return { diffId, size: ex.size };
  } catch (err) {
    const explained = await dec.explain(err);
    ex.abort();
    if (signal?.aborted) throw signal.reason;
    if (err === sourceError) throw err;
    throw explained instanceof BerthError ? explained : internal(`unpacking layer: ${(explained as Error)?.message ?? String(explained)}`, explained);
  }
}

const MAX_ID = 0xfffffffe;

const O_CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
// (libuv opens every fd with O_CLOEXEC already.)

/** The process's umask, read once (Linux reports it in /proc/self/status; reading never changes it). */
let cachedUmask: number | undefined;
function umask(): number {
  if (cachedUmask === undefined) {
    try {
      const m = /^Umask:\s+([0-7]+)$/m.exec(fs.readFileSync("/proc/self/status", "latin1"));
      cachedUmask = m ? parseInt(m[1]!, 8) : 0o777;
    } catch {
      cachedUmask = 0o777; // unknown: always chmod explicitly
    }
  }
  return cachedUmask;
}

/** The regular file being written. */
interface OpenFile {
  node: Node;
  e: TarEntry;
  fd: number;
  pos: number;
}

function fsError(err: unknown, what: string): BerthError {
  if (err instanceof BerthError) return err;
  const e = err as NodeJS.ErrnoException;
  const msg = `${what}: ${e?.message ?? String(err)}`;
  switch (e?.code) {
    case "ENOSPC":
    case "EDQUOT":
      return unavailable(msg, err);
    case "ENAMETOOLONG":
    case "ELOOP":
    case "EEXIST":
    case "ENOTDIR":
      return invalid(msg, err);
    default:
      return internal(msg, err);
  }
}

/*
 * Why file system calls are synchronous here: every operation of one layer is a short metadata syscall
 * or a page-cache copy, and measured on the 2-vCPU target VM, handing each of them to libuv's thread pool
 * costs more in cross-thread wakeups than the syscall itself (a bounded pool of async small-file writes
 * was 2x slower than this on tmpfs and no faster on ext4). Decompression still runs off the main thread
 * (zlib's pool thread, or the zstd process) and the loop yields between chunks, so it keeps streaming.
 * Being synchronous also makes per-path ordering trivially right.
 */
class Extractor implements TarSink {
  readonly tree = new Tree();
  size = 0;
  private cur: OpenFile | null = null;
  /** Special files and whiteouts waiting for the mknod batch. */
  private specials: Node[] = [];
  /** Nodes with xattrs or the opaque flag, for the setfattr batch. */
  private readonly xattrNodes = new Set<Node>();
  /** Dirs whose mtime the layer sets; applied last. */
  private readonly timedDirs = new Set<Node>();
  private readonly euid = process.geteuid?.() ?? 0;
  private readonly egid = process.getegid?.() ?? 0;
  private readonly umask = umask();
  private readonly rootBytes: string;

  private constructor(
    readonly root: string,
    private readonly signal: AbortSignal | undefined,
    rootStat: fs.Stats,
  ) {
    // Paths are byte strings (see paths.ts); the root's own bytes are its UTF-8 encoding.
    this.rootBytes = Buffer.from(root, "utf8").toString("latin1");
    this.tree.root.gid = rootStat.gid;
    this.tree.root.sgid = (rootStat.mode & 0o2000) !== 0;
  }

  static async open(target: string, signal: AbortSignal | undefined): Promise<Extractor> {
    let root: string;
    try {
      root = await fs.promises.realpath(target);
    } catch (e) {
      throw precondition(`layer target ${target} does not exist`, e);
    }
    const st = await fs.promises.lstat(root);
    if (!st.isDirectory()) throw precondition(`layer target ${target} is not a directory`);
    // The model in tree.ts starts empty; a non-empty target would make it lie.
    if ((await fs.promises.readdir(root)).length > 0) throw precondition(`layer target ${target} is not empty`);
    return new Extractor(root, signal, st);
  }

  private abs(rel: string): Buffer {
    return Buffer.from(rel === "" ? this.rootBytes : this.rootBytes + "/" + rel, "latin1");
  }

  // ---- TarSink ----

  entry(e: TarEntry): void | Promise<void> {
    if (this.signal?.aborted) throw this.signal.reason;
    const what = () => `layer entry ${displayName(e.name)}`;
    try {
      const r = this.onEntry(e);
      if (r) return r.catch((err) => Promise.reject(fsError(err, what())));
    } catch (err) {
      throw fsError(err, what());
    }
  }

  data(chunk: Buffer): void {
    const c = this.cur;
    if (!c) return;
    try {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(c.fd, chunk, off, chunk.length - off, c.pos + off);
      c.pos += chunk.length;
    } catch (err) {
      throw fsError(err, `writing ${displayName(c.node.path)}`);
    }
  }

  endEntry(): void {
    const c = this.cur;
    if (!c) return;
    this.cur = null;
    const { fd, node, e } = c;
    try {
      // Owner, then mode (chown clears set-id bits), then times, all on the fd.
      const parent = node.parent!;
      const createdGid = parent.sgid ? parent.gid : this.egid;
      if (e.uid !== this.euid || e.gid !== createdGid) fs.fchownSync(fd, e.uid, e.gid);
      if (e.mode & 0o7000 || e.mode & 0o777 & this.umask) fs.fchmodSync(fd, e.mode);
      fs.futimesSync(fd, e.atime ?? e.mtime, e.mtime);
    } catch (err) {
      throw fsError(err, `writing ${displayName(node.path)}`);
    } finally {
      fs.closeSync(fd);
    }
    this.size += e.size;
  }

  // ---- entries ----

  private onEntry(e: TarEntry): void | Promise<void> {
    if (e.uid > MAX_ID || e.gid > MAX_ID) throw invalid(`layer entry ${displayName(e.name)} has an out-of-range owner ${e.uid}:${e.gid}`);
    const comps = normalizeEntryPath(e.name);
    if (comps.length === 0) {
      if (e.type !== TarType.Dir) throw invalid(`layer entry ${displayName(e.name)} names the layer root but is not a directory`);
      this.updateDir(this.tree.root, e);
      return;
    }
    const base = comps[comps.length - 1]!;
    const dirComps = comps.slice(0, -1);
    if (e.type === TarType.File) {
      const wh = classifyWhiteout(base, e.name);
      if (wh) {
        if (wh.kind !== "ignore") this.whiteout(dirComps, wh.kind === "remove" ? wh.name : null, e);
        return;
      }
    }
    const parent = this.tree.resolveDir(dirComps, e.name, this.makeImplicitDir)!;
    const existing = parent.children!.get(base);
    if (e.type === TarType.Link) return this.hardlink(parent, base, existing, e);
    if (e.type === TarType.Dir && existing?.kind === "dir") {
      this.updateDir(existing, e);
      return;
    }
    // A later entry replaces an earlier one at the same path (a dir goes with its whole tree).
    if (existing) this.remove(existing);
    switch (e.type) {
      case TarType.Dir:
        return this.mkdir(parent, base, e, existing?.kind === "whiteout");
      case TarType.File:
        return this.startFile(parent, base, e);
      case TarType.Symlink:
        return this.symlink(parent, base, e);
      case TarType.Char:
      case TarType.Block:
      case TarType.Fifo:
        return this.special(parent, base, e);
    }
  }

  private remove(n: Node): void {
    if (n === this.tree.root) throw internal("refusing to remove the layer root");
    // Only created nodes exist on disk; rm never follows symlinks below a dir.
    if (n.kind === "dir") fs.rmSync(this.abs(n.path), { recursive: true, force: true });
    else if (n.created) fs.unlinkSync(this.abs(n.path));
    this.tree.kill(n);
  }

  /** Missing dirs on an entry's path: 0755, owned by us, like Docker's MkdirAll. Over a whiteout: opaque. */
  private readonly makeImplicitDir = (parent: Node, name: string, replacing: Node | null): Node => {
    if (replacing) this.remove(replacing);
    const n = this.tree.add(parent, name, "dir");
    const p = this.abs(n.path);
    fs.mkdirSync(p, 0o755);
    n.gid = parent.sgid ? parent.gid : this.egid;
    if (parent.sgid || this.umask & 0o755) fs.chmodSync(p, 0o755);
    if (replacing) this.setOpaque(n);
    return n;
  };

  private mkdir(parent: Node, name: string, e: TarEntry, overWhiteout: boolean): void {
    const n = this.tree.add(parent, name, "dir");
    const p = this.abs(n.path);
    fs.mkdirSync(p, e.mode & 0o777);
    const createdGid = parent.sgid ? parent.gid : this.egid;
    if (e.uid !== this.euid || e.gid !== createdGid) fs.lchownSync(p, e.uid, e.gid);
    // mkdir is subject to the umask and inherits setgid; chown may clear set-id bits: chmod after chown.
    if (e.mode & 0o7000 || e.mode & 0o777 & this.umask || parent.sgid) fs.chmodSync(p, e.mode);
    n.gid = e.gid;
    n.sgid = (e.mode & 0o2000) !== 0;
    this.dirMeta(n, e);
    // A dir this layer creates where it also whited out the name hides the lower dir's content.
    if (overWhiteout) this.setOpaque(n);
  }

  /** A dir entry over an existing dir keeps the contents and takes the new metadata. */
  private updateDir(n: Node, e: TarEntry): void {
    const p = this.abs(n.path);
    fs.lchownSync(p, e.uid, e.gid);
    fs.chmodSync(p, e.mode);
    n.gid = e.gid;
    n.sgid = (e.mode & 0o2000) !== 0;
    this.dirMeta(n, e);
  }

  private dirMeta(n: Node, e: TarEntry): void {
    n.meta = { uid: e.uid, gid: e.gid, mode: e.mode, mtime: e.mtime, atime: e.atime ?? e.mtime };
    this.timedDirs.add(n);
    this.addXattrs(n, e);
  }

  private setOpaque(n: Node): void {
    n.opaque = true;
    this.xattrNodes.add(n);
  }

  private addXattrs(n: Node, e: TarEntry): void {
    if (!e.xattrs) return;
    for (const [name, value] of e.xattrs) {
      // overlayfs interprets these; a layer setting them could redirect or hide lower content. Dropped.
      if (isOverlayPrivateXattr(name)) continue;
      if (!isAcceptableXattrName(name)) throw invalid(`layer entry ${displayName(e.name)} has an unsupported xattr name ${JSON.stringify(name)}`);
      // The kernel refuses user.* xattrs on symlinks; tars made from such trees cannot carry real ones.
      if (n.kind === "symlink" && name.startsWith("user.")) continue;
      (n.xattrs ??= new Map()).set(name, value);
    }
    if (n.xattrs) this.xattrNodes.add(n);
  }

  private startFile(parent: Node, name: string, e: TarEntry): void {
    const n = this.tree.add(parent, name, "file");
    // O_EXCL|O_NOFOLLOW: the model says the name is free; if the disk disagrees we fail, never follow.
    const fd = fs.openSync(this.abs(n.path), O_CREATE, e.mode & 0o777);
    this.cur = { node: n, e, fd, pos: 0 };
    this.addXattrs(n, e);
  }

  private symlink(parent: Node, name: string, e: TarEntry): void {
    if (e.linkname === "") throw invalid(`layer entry ${displayName(e.name)} is a symlink with an empty target`);
    if (e.linkname.includes("\0")) throw invalid(`layer entry ${displayName(e.name)} has a NUL byte in its link target`);
    const n = this.tree.add(parent, name, "symlink");
    // The link text is stored as is (absolute or ".."-laden is fine): it is never followed while
    // extracting, and later entries through it are resolved inside the root by tree.ts.
    n.target = e.linkname;
    const p = this.abs(n.path);
    fs.symlinkSync(Buffer.from(e.linkname, "latin1"), p);
    const createdGid = parent.sgid ? parent.gid : this.egid;
    if (e.uid !== this.euid || e.gid !== createdGid) fs.lchownSync(p, e.uid, e.gid);
    fs.lutimesSync(p, e.atime ?? e.mtime, e.mtime);
    this.addXattrs(n, e);
  }

  private hardlink(parent: Node, name: string, existing: Node | undefined, e: TarEntry): void | Promise<void> {
    let tcomps: string[];
    try {
      tcomps = normalizeEntryPath(e.linkname);
    } catch {
      throw invalid(`layer entry ${displayName(e.name)} is a hardlink to ${displayName(e.linkname)}, outside the layer`);
    }
    if (tcomps.length === 0) throw invalid(`layer entry ${displayName(e.name)} is a hardlink to the layer root`);
    // The target is looked up in this layer's model only (resolved inside the root, never created).
    const tparent = this.tree.resolveDir(tcomps.slice(0, -1), e.name, null);
    const t = tparent?.children!.get(tcomps[tcomps.length - 1]!);
    if (!t || t.kind === "whiteout") throw invalid(`layer entry ${displayName(e.name)} is a hardlink to ${displayName(e.linkname)}, which is not an earlier entry of this layer`);
    if (t.kind === "dir") throw invalid(`layer entry ${displayName(e.name)} is a hardlink to a directory`);
    if (existing === t) return; // a link to itself: nothing to do
    const link = () => {
      if (existing) this.remove(existing);
      if (!t.alive) throw invalid(`layer entry ${displayName(e.name)} replaced its own hardlink target`);
      const n = this.tree.add(parent, name, t.kind);
      n.target = t.target;
      fs.linkSync(this.abs(t.path), this.abs(n.path));
    };
    // A link to a device node or fifo still waiting for the mknod batch: run the batch now.
    if (!t.created) return this.flushSpecials().then(link);
    link();
  }

  private special(parent: Node, name: string, e: TarEntry): void {
    const n = this.tree.add(parent, name, "special");
    n.created = false;
    const type = e.type === TarType.Char ? "c" : e.type === TarType.Block ? "b" : "p";
    n.dev = { type, major: e.devmajor, minor: e.devminor, mode: e.mode };
    n.meta = { uid: e.uid, gid: e.gid, mode: e.mode, mtime: e.mtime, atime: e.atime ?? e.mtime };
    this.specials.push(n);
    this.addXattrs(n, e);
  }

  /**
   * `.wh.<name>` -> whiteout (char 0:0) at <name>; `.wh..wh..opq` (name null) -> the dir becomes opaque.
   * Whiteouts only hide LOWER layers: if this layer already has <name>, a non-dir stays as is and a dir
   * stays but turns opaque (its lower content is gone, this layer's stays). If this layer adds <name>
   * after the whiteout, that entry replaces the whiteout (and a dir there is made opaque).
   */
  private whiteout(dirComps: string[], name: string | null, e: TarEntry): void {
    const parent = this.tree.resolveDir(dirComps, e.name, this.makeImplicitDir)!;
    if (name === null) {
      this.setOpaque(parent);
      return;
    }
    const existing = parent.children!.get(name);
    if (existing) {
      if (existing.kind === "dir") this.setOpaque(existing);
      return;
    }
    const n = this.tree.add(parent, name, "whiteout");
    n.created = false;
    this.specials.push(n);
  }

  // ---- the end of the layer ----

  /** One `sh` running every pending mknod, after re-checking their paths on disk. */
  private async flushSpecials(): Promise<void> {
    const todo = this.specials.filter((n) => n.alive && !n.created);
    this.specials = [];
    if (todo.length === 0) return;
    const guard = new AncestorGuard(this.rootBytes);
    let script = "set -e\n";
    for (const n of todo) {
      guard.checkAncestors(n.path);
      if (guard.lstat(n.path)) throw internal(`refusing to create ${displayName(n.path)}: something already exists there`);
      const q = shQuote("./" + n.path);
      if (n.kind === "whiteout") script += `mknod -m 000 ${q} c 0 0\n`;
      else {
        const d = n.dev!;
        const mode = (d.mode & 0o777).toString(8);
        script += d.type === "p" ? `mknod -m ${mode} ${q} p\n` : `mknod -m ${mode} ${q} ${d.type} ${d.major} ${d.minor}\n`;
      }
    }
    await runHelper("sh", ["-s"], Buffer.from(script, "latin1"), this.root, "create device nodes and whiteouts", this.signal);
    for (const n of todo) {
      n.created = true;
      if (n.kind === "whiteout") continue;
      const m = n.meta!;
      const p = this.abs(n.path);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink() || st.isDirectory() || st.isFile()) throw internal(`refusing to set metadata on ${displayName(n.path)}: not the node just created`);
      const createdGid = n.parent!.sgid ? n.parent!.gid : this.egid;
      if (m.uid !== this.euid || m.gid !== createdGid) fs.lchownSync(p, m.uid, m.gid);
      if (m.mode & 0o7000) fs.chmodSync(p, m.mode);
      fs.lutimesSync(p, m.atime, m.mtime);
    }
  }

  /** One `setfattr --restore` for every xattr and opaque flag of the layer, after ownership is final. */
  private async flushXattrs(): Promise<void> {
    const nodes = [...this.xattrNodes].filter((n) => n.alive);
    this.xattrNodes.clear();
    if (nodes.length === 0) return;
    const guard = new AncestorGuard(this.rootBytes);
    const parts: string[] = [];
    for (const n of nodes) {
      guard.checkAncestors(n.path);
      const st = guard.lstat(n.path);
      if (!st || st.isSymbolicLink() !== (n.kind === "symlink")) throw internal(`refusing to set xattrs on ${displayName(n.path)}: it changed on disk`);
      let rec = `# file: ${escapeDumpPath(n.path === "" ? "." : "./" + n.path)}\n`;
      for (const [name, value] of n.xattrs ?? []) rec += value.length === 0 ? `${name}=""\n` : `${name}=0s${value.toString("base64")}\n`;
      if (n.opaque) rec += "trusted.overlay.opaque=0x79\n";
      parts.push(rec + "\n");
    }
    await runHelper("setfattr", ["-h", "--restore=-"], Buffer.from(parts.join(""), "latin1"), this.root, "set extended attributes", this.signal);
  }

  /** Dir times last: creating children changed them. Deepest first. */
  private setDirTimes(): void {
    const dirs = [...this.timedDirs].filter((n) => n.alive);
    dirs.sort((a, b) => b.depth - a.depth);
    for (const n of dirs) fs.lutimesSync(this.abs(n.path), n.meta!.atime, n.meta!.mtime);
  }

  async finish(): Promise<void> {
    try {
      await this.flushSpecials();
      this.signal?.throwIfAborted();
      await this.flushXattrs();
      this.signal?.throwIfAborted();
      this.setDirTimes();
    } catch (err) {
      if (this.signal?.aborted) throw this.signal.reason;
      throw fsError(err, "finishing layer");
    }
  }

  /** Error path: close the file being written, so nothing touches the target after we return. */
  abort(): void {
    const c = this.cur;
    this.cur = null;
    if (c) {
      try {
        fs.closeSync(c.fd);
      } catch {
        /* already failing; the original error is what matters */
      }
    }
  }
}
