import { createHash, randomBytes, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import type { Digest } from "../../core/digest.js";
import type { ContentStore } from "../../store/content.js";

/**
 * A temp file in the content store's ingest dir: on the blobs' filesystem, and named so that
 * ContentStore.cleanIngest (`<name>.<pid>.<x>`) removes it if this process dies before cleaning up.
 */
export function ingestTempPath(content: ContentStore, kind: string): string {
  return join(content.ingestDir, `${kind}-${randomBytes(6).toString("hex")}.${process.pid}.tmp`);
}

/** Store a file whose digest is already known, through a verifying blob writer. */
export async function copyIntoStore(content: ContentStore, path: string, digest: Digest, size: number): Promise<void> {
  if (await content.has(digest)) return;
  const w = await content.writer(digest, size);
  try {
    const out = new BatchedWriter((b) => w.write(b));
    try {
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) await out.push(chunk as Buffer);
      await out.close();
    } finally {
      await out.settle();
    }
    await w.commit();
  } catch (e) {
    await w.abort();
    throw e;
  }
}

/** Pass-through that hashes (sha256) and counts what flows by. */
export class HashCounter extends Transform {
  private readonly hash: Hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  digest(): Digest {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/**
 * Gathers small chunks into large writes and keeps one write in flight while the next batch fills, so
 * reading the archive and writing blobs overlap. Writes are issued strictly in order.
 */
export class BatchedWriter {
  private chunks: Buffer[] = [];
  private length = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: (b: Buffer) => Promise<unknown>,
    private readonly limit = 4 << 20,
  ) {}

  async push(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk);
    this.length += chunk.length;
    if (this.length >= this.limit) await this.flush();
  }

  private async flush(): Promise<void> {
    const batch = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    this.length = 0;
    await this.pending;
    const p = this.sink(batch).then(() => {});
    // Awaited on the next flush or close; until then a failure must not count as unhandled.
    p.catch(() => {});
    this.pending = p;
  }

  /** Write what is left and wait for every write to finish. */
  async close(): Promise<void> {
    if (this.length > 0) await this.flush();
    await this.pending;
  }

  /** Wait for the write in flight (after an error elsewhere), ignoring its outcome. */
  async settle(): Promise<void> {
    await this.pending.catch(() => {});
  }
}
