/*
 * Test-only tar writer for crafting layers, including hostile ones: names are written verbatim (".."
 * and absolute paths included), pax records may carry binary values (security.capability), and any
 * type flag can be used. Written from the POSIX ustar/pax description; tests also use tar-stream's
 * packer and GNU tar as independent producers.
 */
import { spawnSync } from "node:child_process";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";

export type EntryType = "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";

export interface TarEntrySpec {
  name: string;
  type?: EntryType;
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as SCHILY.xattr.<name> pax records (binary values kept). */
  xattrs?: Record<string, Buffer | string>;
  /** Extra raw pax records. */
  pax?: Record<string, Buffer | string>;
  /** Force a pax header even when ustar would do. */
  forcePax?: boolean;
}

const TYPEFLAG: Record<EntryType, string> = { file: "0", link: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" };

function octal(buf: Buffer, off: number, len: number, v: number): void {
  buf.write(v.toString(8).padStart(len - 1, "0") + "\0", off, len, "latin1");
}

function header(name: string, typeflag: string, size: number, e: Partial<TarEntrySpec>, linkname = ""): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  octal(h, 100, 8, e.mode ?? (typeflag === "5" ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor(e.mtime ?? 1_600_000_000));
  h.write("        ", 148, 8, "latin1");
  h.write(typeflag, 156, 1, "latin1");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "latin1");
  h.write("00", 263, 2, "latin1");
  h.write("root", 265, 32, "latin1");
  h.write("root", 297, 32, "latin1");
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return h;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, "utf8"), value, Buffer.from("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), "latin1"), body]);
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

export function tarEntry(e: TarEntrySpec): Buffer {
  const type = e.type ?? "file";
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
  const size = type === "file" ? data.length : 0;
  const linkname = e.linkname ?? "";
  const records: Buffer[] = [];
  const needPax = e.forcePax || Buffer.byteLength(e.name) > 99 || Buffer.byteLength(linkname) > 99 || e.xattrs || e.pax;
  if (needPax) {
    records.push(paxRecord("path", Buffer.from(e.name)));
    if (linkname) records.push(paxRecord("linkpath", Buffer.from(linkname)));
    for (const [k, v] of Object.entries(e.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.isBuffer(v) ? v : Buffer.from(v)));
    for (const [k, v] of Object.entries(e.pax ?? {})) records.push(paxRecord(k, Buffer.isBuffer(v) ? v : Buffer.from(v)));
  }
  const parts: Buffer[] = [];
  if (records.length) {
    const body = Buffer.concat(records);
    parts.push(header("PaxHeaders/x", "x", body.length, {}), body, pad(body.length));
  }
  const shortName = needPax ? Buffer.from(e.name).subarray(0, 99).toString("latin1") : e.name;
  const shortLink = needPax ? Buffer.from(linkname).subarray(0, 99).toString("latin1") : linkname;
  parts.push(header(shortName, TYPEFLAG[type], size, e, shortLink));
  if (size) parts.push(data, pad(size));
  return Buffer.concat(parts);
}

/** A whole tar: entries, then the two-block end marker, padded to a 10240-byte record like GNU tar. */
export function makeTar(entries: TarEntrySpec[]): Buffer {
  const body = Buffer.concat([...entries.map(tarEntry), Buffer.alloc(1024)]);
  return Buffer.concat([body, Buffer.alloc((10240 - (body.length % 10240)) % 10240)]);
}

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

export function zstd(b: Buffer): Buffer {
  const r = spawnSync("zstd", ["-q", "-c"], { input: b, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr}`);
  return r.stdout;
}

/** A readable over a buffer in small chunks, so parser state crosses chunk boundaries. */
export function streamOf(b: Buffer, chunk = 7001): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= b.length) return void this.push(null);
      this.push(b.subarray(off, off + chunk));
      off += chunk;
    },
  });
}

/** A readable that counts the bytes the consumer pulled, to check the blob is read to its end. */
export function countingStream(b: Buffer, chunk = 65536): { stream: Readable; consumed: () => number } {
  let off = 0;
  const stream = new Readable({
    read() {
      if (off >= b.length) return void this.push(null);
      const c = b.subarray(off, off + chunk);
      off += c.length;
      this.push(c);
    },
  });
  return { stream, consumed: () => off };
}
