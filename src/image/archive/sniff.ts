import { Readable } from "node:stream";

export type StreamCompression = "none" | "gzip" | "zstd" | "xz" | "bzip2";

/** Compression of a stream from its magic bytes (RFC 1952 gzip, RFC 8878 zstd frame, xz, bzip2). */
export function detectCompression(head: Uint8Array): StreamCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  if (head.length >= 6 && Buffer.from(head.subarray(0, 6)).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bzip2";
  return "none";
}

/**
 * Does a 512-byte block look like the start of a tar stream? A ustar/GNU header (magic at 257 and a valid
 * checksum), or an all-zero block (an empty archive is two of them). Old v7 headers are accepted by checksum.
 */
export function looksLikeTar(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const b = Buffer.from(block.buffer, block.byteOffset, 512);
  if (b.every((x) => x === 0)) return true;
  const field = b.subarray(148, 156).toString("latin1").replace(/\0.*$/s, "").trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum === parseInt(field, 8);
}

/**
 * Read at least `n` bytes (fewer at end of input) without losing them: returns those bytes and a stream
 * that yields the whole input from the start.
 */
export async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = typeof r.value === "string" ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length);
    chunks.push(b);
    len += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    }
  }
  return { head: head.subarray(0, Math.min(n, head.length)), stream: Readable.from(all(), { objectMode: false }) };
}
