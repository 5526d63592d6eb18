import { invalid } from "../../core/errors.js";

/*
 * A streaming tar reader (POSIX ustar + pax, GNU long names, base-256 numbers), written for layer
 * extraction. We do not use tar-stream's parser because it decodes pax records as UTF-8 text, which
 * corrupts binary xattr values (security.capability is binary) and non-UTF-8 file names; it also
 * allocates a stream per entry. Here the caller pushes chunks; file data is handed out as zero-copy
 * subarrays of those chunks.
 */

export const enum TarType {
  File = 0x30, // '0' (and NUL, and '7' contiguous)
  Link = 0x31,
  Symlink = 0x32,
  Char = 0x33,
  Block = 0x34,
  Dir = 0x35,
  Fifo = 0x36,
}

export interface TarEntry {
  /** Byte string (latin1). */
  name: string;
  /** Byte string (latin1); "" when none. */
  linkname: string;
  type: TarType;
  /** Permission bits incl. setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, possibly fractional (pax). */
  mtime: number;
  atime: number | undefined;
  devmajor: number;
  devminor: number;
  /** Raw xattr values from SCHILY.xattr.* / LIBARCHIVE.xattr.* pax records, or null. */
  xattrs: Map<string, Buffer> | null;
}

export interface TarSink {
  /** A new entry; its data (entry.size bytes) follows through data() and ends with endEntry(). */
  entry(e: TarEntry): void | Promise<void>;
  data(chunk: Buffer): void | Promise<void>;
  endEntry(): void | Promise<void>;
}

const BLOCK = 512;
/** pax and GNU long-name records are buffered whole; cap them so a hostile layer cannot exhaust memory. */
const MAX_META = 8 << 20;

const enum State {
  Header,
  Data,
  Skip,
  Meta,
  Done,
}

const MetaKind = { Pax: 1, Global: 2, LongName: 3, LongLink: 4 } as const;
type MetaKind = (typeof MetaKind)[keyof typeof MetaKind];

interface PaxFields {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  atime?: number;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

export class TarReader {
  private state = State.Header;
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Bytes left in the current data/skip/meta section. */
  private remaining = 0;
  /** Padding after the current section. */
  private padding = 0;
  private metaKind: MetaKind = MetaKind.Pax;
  private metaBuf: Buffer = Buffer.alloc(0);
  private metaFill = 0;
  private pax: PaxFields | null = null;
  private global: PaxFields | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;
  private inEntry = false;
  /** Offset of the current header in the tar, for error messages. */
  private offset = 0;

  constructor(private readonly sink: TarSink) {}

  /** True once the end-of-archive marker was seen; further bytes are consumed but ignored. */
  get done(): boolean {
    return this.state === State.Done;
  }

  async write(chunk: Buffer): Promise<void> {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      switch (this.state) {
        case State.Done:
          return;
        case State.Header: {
          const n = Math.min(BLOCK - this.headerFill, len - pos);
          if (n === BLOCK) {
            pos += BLOCK;
            const r = this.onHeader(chunk.subarray(pos - BLOCK, pos));
            if (r) await r;
          } else {
            chunk.copy(this.header, this.headerFill, pos, pos + n);
            this.headerFill += n;
            pos += n;
            if (this.headerFill === BLOCK) {
              this.headerFill = 0;
              const r = this.onHeader(this.header);
              if (r) await r;
            }
          }
          break;
        }
        case State.Data: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          pos += n;
          const r = this.sink.data(chunk.subarray(pos - n, pos));
          if (r) await r;
          if (this.remaining === 0) await this.finishEntry();
          break;
        }
        case State.Skip: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            if (this.inEntry) await this.finishEntry();
            else this.toHeader();
          }
          break;
        }
        case State.Meta: {
          const n = Math.min(this.remaining, len - pos);
          chunk.copy(this.metaBuf, this.metaFill, pos, pos + n);
          this.metaFill += n;
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            this.onMeta();
            this.toHeader();
          }
          break;
        }
      }
    }
  }

  /** The input ended: it must end between entries (a missing end-of-archive marker is tolerated). */
  end(): void {
    if (this.state === State.Done) return;
    if (this.state === State.Header && this.headerFill === 0 && this.remaining === 0 && !this.inEntry && !this.pax && this.longName === null && this.longLink === null) return;
    throw invalid("layer tar is truncated (unexpected end of data)");
  }

  private toHeader(): void {
    if (this.padding > 0) {
      this.remaining = this.padding;
      this.padding = 0;
      this.state = State.Skip;
      return;
    }
    this.state = State.Header;
  }

  private async finishEntry(): Promise<void> {
    if (this.padding > 0) {
      // Skip the padding first; finishEntry is called again when it is consumed.
      this.remaining = this.padding;
      this.padding = 0;
      this.state = State.Skip;
      if (this.remaining > 0) return;
    }
    this.inEntry = false;
    this.state = State.Header;
    const r = this.sink.endEntry();
    if (r) await r;
  }

  private onHeader(h: Buffer): void | Promise<void> {
    const at = this.offset;
    this.offset += BLOCK;
    if (isZeroBlock(h)) {
      // End-of-archive marker (two zero blocks; we stop at the first). Whatever follows is padding.
      if (this.pax || this.longName !== null || this.longLink !== null) throw invalid(`layer tar ends right after an extended header (offset ${at})`);
      this.state = State.Done;
      return;
    }
    verifyChecksum(h, at);
    let typeflag = h[156]!;
    const size = readNumber(h, 124, 12, "size", at);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);

    // Extended headers: buffer their data, then read the next header.
    let meta: MetaKind | 0 = 0;
    if (typeflag === 0x78 /* x */) meta = MetaKind.Pax;
    else if (typeflag === 0x67 /* g */) meta = MetaKind.Global;
    else if (typeflag === 0x4c /* L */) meta = MetaKind.LongName;
    else if (typeflag === 0x4b /* K */) meta = MetaKind.LongLink;
    if (meta) {
      if (size > MAX_META) throw invalid(`layer tar has an extended header of ${size} bytes (offset ${at})`);
      this.metaKind = meta;
      this.metaBuf = Buffer.allocUnsafe(size);
      this.metaFill = 0;
      this.offset += padded;
      this.padding = padded - size;
      this.remaining = size;
      this.state = size > 0 ? State.Meta : State.Header;
      if (size === 0) {
        this.onMeta();
        this.toHeader();
      }
      return;
    }

    const ustar = h.toString("latin1", 257, 263) === "ustar\0";
    let name = cstr(h, 0, 100);
    if (ustar && h[345] !== 0) name = cstr(h, 345, 155) + "/" + name;
    let linkname = cstr(h, 157, 100);
    let mode = readNumber(h, 100, 8, "mode", at) & 0o7777;
    let uid = readNumber(h, 108, 8, "uid", at);
    let gid = readNumber(h, 116, 8, "gid", at);
    let mtime = readNumber(h, 136, 12, "mtime", at);
    let atime: number | undefined;
    let devmajor = 0;
    let devminor = 0;
    if (typeflag === TarType.Char || typeflag === TarType.Block) {
      devmajor = readNumber(h, 329, 8, "devmajor", at);
      devminor = readNumber(h, 337, 8, "devminor", at);
    }
    let entrySize = size;
    let xattrs: Map<string, Buffer> | null = null;

    if (this.longName !== null) name = this.longName;
    if (this.longLink !== null) linkname = this.longLink;
    for (const p of [this.global, this.pax]) {
      if (!p) continue;
      if (p.path !== undefined) name = p.path;
      if (p.linkpath !== undefined) linkname = p.linkpath;
      if (p.size !== undefined) entrySize = p.size;
      if (p.uid !== undefined) uid = p.uid;
      if (p.gid !== undefined) gid = p.gid;
      if (p.mtime !== undefined) mtime = p.mtime;
      if (p.atime !== undefined) atime = p.atime;
      if (p.devmajor !== undefined) devmajor = p.devmajor;
      if (p.devminor !== undefined) devminor = p.devminor;
      if (p.xattrs) {
        xattrs ??= new Map();
        for (const [k, v] of p.xattrs) xattrs.set(k, v);
      }
    }
    this.pax = null;
    this.longName = null;
    this.longLink = null;

    // Normalise the type flag.
    if (typeflag === 0 || typeflag === 0x37 /* '7' contiguous */) typeflag = TarType.File;
    if (typeflag === TarType.File && name.endsWith("/")) typeflag = TarType.Dir; // pre-POSIX dirs
    if (typeflag === 0x56 /* V: volume label */) {
      this.skipSection(entrySize, false);
      return;
    }
    if (typeflag < TarType.File || typeflag > TarType.Fifo) {
      const what = typeflag === 0x53 ? "a GNU sparse file" : `unsupported type '${String.fromCharCode(typeflag)}'`;
      throw invalid(`layer entry ${JSON.stringify(Buffer.from(name, "latin1").toString("utf8"))} is ${what}`);
    }
    // Only regular files have data; every other type is header-only, whatever its size field says
    // (as Go's archive/tar, which writes and reads most layers, treats them).
    const hasData = typeflag === TarType.File;
    const dataSize = hasData ? entrySize : 0;
    const dataPadded = dataSize + ((BLOCK - (dataSize % BLOCK)) % BLOCK);
    this.offset += dataPadded;

    const entry: TarEntry = {
      name,
      linkname,
      type: typeflag as TarType,
      mode,
      uid,
      gid,
      size: hasData ? entrySize : 0,
      mtime,
      atime,
      devmajor,
      devminor,
      xattrs,
    };
    this.inEntry = true;
    this.padding = dataPadded - dataSize;
    this.remaining = dataSize;
    const go = (): void | Promise<void> => {
      if (dataSize === 0) return this.finishEntry();
      this.state = hasData ? State.Data : State.Skip;
    };
    const r = this.sink.entry(entry);
    if (r) return r.then(go);
    return go();
  }

  private skipSection(size: number, inEntry: boolean): void {
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    this.offset += padded;
    this.inEntry = inEntry;
    this.remaining = padded;
    this.padding = 0;
    this.state = padded > 0 ? State.Skip : State.Header;
  }

  private onMeta(): void {
    const buf = this.metaBuf.subarray(0, this.metaFill);
    this.metaBuf = Buffer.alloc(0);
    switch (this.metaKind) {
      case MetaKind.LongName:
        this.longName = cstr(buf, 0, buf.length);
        break;
      case MetaKind.LongLink:
        this.longLink = cstr(buf, 0, buf.length);
        break;
      case MetaKind.Pax:
        this.pax = parsePax(buf, this.offset);
        break;
      case MetaKind.Global: {
        const g = parsePax(buf, this.offset);
        // A global path/linkpath/size would apply to every later entry; no sane layer does that, ignore them.
        delete g.path;
        delete g.linkpath;
        delete g.size;
        this.global = { ...this.global, ...g, xattrs: mergeMaps(this.global?.xattrs, g.xattrs) };
        break;
      }
    }
  }
}

function mergeMaps(a: Map<string, Buffer> | undefined, b: Map<string, Buffer> | undefined): Map<string, Buffer> | undefined {
  if (!a) return b;
  if (!b) return a;
  return new Map([...a, ...b]);
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i += 4) if (b.readUInt32LE(i) !== 0) return false;
  return true;
}

/** A NUL-terminated field as a byte string. */
function cstr(b: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  return b.toString("latin1", off, end);
}

function verifyChecksum(h: Buffer, at: number): void {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  const want = readOctal(h, 148, 8);
  if (want !== unsigned && want !== signed) throw invalid(`layer tar is corrupt: bad header checksum at offset ${at}`);
}

function readOctal(b: Buffer, off: number, len: number): number {
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return NaN;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  return digits === 0 ? 0 : v;
}

/** A numeric header field: octal text, or GNU base-256 (high bit of the first byte set) for big or negative values. */
function readNumber(b: Buffer, off: number, len: number, what: string, at: number): number {
  const first = b[off]!;
  let v: number;
  if (first === 0xff) {
    // Negative, two's complement over the whole field.
    let c = 0;
    for (let i = off; i < off + len; i++) c = c * 256 + (~b[i]! & 0xff);
    v = -(c + 1);
  } else if (first & 0x80) {
    v = first & 0x7f;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
  } else {
    v = readOctal(b, off, len);
  }
  if (!Number.isSafeInteger(v)) throw invalid(`layer tar is corrupt: bad ${what} field at offset ${at}`);
  if (v < 0 && what !== "mtime") throw invalid(`layer tar is corrupt: negative ${what} at offset ${at}`);
  return v;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

function paxNumber(key: string, value: string, at: number, integer: boolean): number {
  if (!DECIMAL.test(value)) throw invalid(`layer tar has a bad pax ${key} value at offset ${at}`);
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && (!Number.isSafeInteger(n) || n < 0))) throw invalid(`layer tar has a bad pax ${key} value at offset ${at}`);
  return n;
}

/** Parse pax records "<len> <key>=<value>\n"; values stay bytes (xattrs) or byte strings (paths). */
export function parsePax(buf: Buffer, at: number): PaxFields {
  const out: PaxFields = {};
  let pos = 0;
  while (pos < buf.length) {
    // Some writers pad with NULs.
    if (buf[pos] === 0) break;
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0) throw invalid(`layer tar has a malformed pax header at offset ${at}`);
    const lenText = buf.toString("latin1", pos, sp);
    const recLen = /^\d+$/.test(lenText) ? Number(lenText) : NaN;
    const end = pos + recLen;
    if (!Number.isSafeInteger(recLen) || recLen <= sp - pos + 1 || end > buf.length || buf[end - 1] !== 0x0a) {
      throw invalid(`layer tar has a malformed pax header at offset ${at}`);
    }
    const eq = buf.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end - 1) throw invalid(`layer tar has a malformed pax record at offset ${at}`);
    const key = buf.toString("latin1", sp + 1, eq);
    const raw = buf.subarray(eq + 1, end - 1);
    pos = end;
    switch (key) {
      case "path":
        out.path = raw.toString("latin1");
        break;
      case "linkpath":
        out.linkpath = raw.toString("latin1");
        break;
      case "size":
        out.size = paxNumber(key, raw.toString("latin1"), at, true);
        break;
      case "uid":
        out.uid = paxNumber(key, raw.toString("latin1"), at, true);
        break;
      case "gid":
        out.gid = paxNumber(key, raw.toString("latin1"), at, true);
        break;
      case "mtime":
        out.mtime = paxNumber(key, raw.toString("latin1"), at, false);
        break;
      case "atime":
        out.atime = paxNumber(key, raw.toString("latin1"), at, false);
        break;
      case "SCHILY.devmajor":
        out.devmajor = paxNumber(key, raw.toString("latin1"), at, true);
        break;
      case "SCHILY.devminor":
        out.devminor = paxNumber(key, raw.toString("latin1"), at, true);
        break;
      default:
        if (key.startsWith("SCHILY.xattr.")) {
          (out.xattrs ??= new Map()).set(key.slice("SCHILY.xattr.".length), Buffer.from(raw));
        } else if (key.startsWith("LIBARCHIVE.xattr.")) {
          // libarchive: the name is URL-encoded, the value base64.
          let name: string;
          try {
            name = decodeURIComponent(key.slice("LIBARCHIVE.xattr.".length));
          } catch {
            throw invalid(`layer tar has a bad LIBARCHIVE.xattr name at offset ${at}`);
          }
          (out.xattrs ??= new Map()).set(name, Buffer.from(raw.toString("latin1"), "base64"));
        } else if (key.startsWith("GNU.sparse.")) {
          throw invalid(`layer tar holds a GNU sparse file (offset ${at}), which layers do not support`);
        }
      // Everything else (uname, gname, ctime, comment, SCHILY.acl.*, hdrcharset, ...) has no meaning here.
    }
  }
  return out;
}
