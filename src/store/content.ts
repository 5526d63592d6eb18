import { lazyCrypto } from "../core/lazy.js";
import type { Hash } from "node:crypto";
import { createReadStream, promises as fsp, constants as C } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { digestAlgorithm, digestHex, parseDigest, type Digest } from "../core/digest.js";
import { BerthError, notFound } from "../core/errors.js";
import { pidAlive } from "./leases.js";

/**
 * Content-addressed blobs: root/content/blobs/<alg>/<hex>. Writers go through ingest/ and only a
 * verified, fsynced file is renamed into place, so a blob path that exists is always complete and correct.
 */
export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(root: string) {
    this.blobsDir = join(root, "content", "blobs");
    this.ingestDir = join(root, "content", "ingest");
  }

  async init(): Promise<void> {
    await fsp.mkdir(join(this.blobsDir, "sha256"), { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  path(d: Digest): string {
    return join(this.blobsDir, digestAlgorithm(d), digestHex(d));
  }

  async has(d: Digest): Promise<boolean> {
    try {
      await fsp.access(this.path(d));
      return true;
    } catch {
      return false;
    }
  }

  async size(d: Digest): Promise<number> {
    try {
      return (await fsp.stat(this.path(d))).size;
    } catch {
      throw notFound(`blob ${d} not found in the content store`);
    }
  }

  async read(d: Digest): Promise<Buffer> {
    try {
      return await fsp.readFile(this.path(d));
    } catch {
      throw notFound(`blob ${d} not found in the content store`);
    }
  }

  stream(d: Digest): Readable {
    return createReadStream(this.path(d));
  }

  /** Store bytes already in memory (manifests, configs); verifies against `expected` when given. */
  async put(bytes: Uint8Array, expected?: Digest): Promise<Digest> {
    const w = await this.writer(expected ?? (`sha256:${lazyCrypto().createHash("sha256").update(bytes).digest("hex")}` as Digest), bytes.length);
    try {
      await w.write(bytes);
      return await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /**
   * Open an ingest for a blob. When `resume` is set and a dead process left a partial ingest of the
   * same digest, it is adopted: the writer starts at its length, with the hash primed from its bytes.
   */
  async writer(expected: Digest, expectedSize?: number, resume = false): Promise<BlobWriter> {
    parseDigest(expected);
    await this.init();
    const prefix = `${digestAlgorithm(expected)}-${digestHex(expected)}.`;
    const mine = join(this.ingestDir, `${prefix}${process.pid}.${lazyCrypto().randomBytes(4).toString("hex")}`);
    let offset = 0;
    if (resume) {
      for (const name of await fsp.readdir(this.ingestDir)) {
        if (!name.startsWith(prefix)) continue;
        const pid = Number(name.slice(prefix.length).split(".")[0]);
        if (pidAlive(pid)) continue;
        try {
          await fsp.rename(join(this.ingestDir, name), mine);
          offset = (await fsp.stat(mine)).size;
          if (expectedSize !== undefined && offset > expectedSize) {
            await fsp.truncate(mine, 0);
            offset = 0;
          }
          break;
        } catch {
          /* another process adopted it first */
        }
      }
    }
    const hash = lazyCrypto().createHash(digestAlgorithm(expected));
    if (offset > 0) {
      for await (const chunk of createReadStream(mine)) hash.update(chunk as Buffer);
    }
    const fh = await fsp.open(mine, C.O_WRONLY | C.O_CREAT | C.O_APPEND, 0o600);
    return new BlobWriter(this, mine, fh, hash, expected, expectedSize, offset);
  }

  async delete(d: Digest): Promise<void> {
    await fsp.rm(this.path(d), { force: true });
  }

  async list(): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const alg of await fsp.readdir(this.blobsDir).catch(() => [] as string[])) {
      for (const hex of await fsp.readdir(join(this.blobsDir, alg))) out.push(`${alg}:${hex}` as Digest);
    }
    return out;
  }

  /** Remove ingest files whose writer process is gone. */
  async cleanIngest(): Promise<number> {
    let n = 0;
    for (const name of await fsp.readdir(this.ingestDir).catch(() => [] as string[])) {
      const pid = Number(name.split(".")[1]);
      if (!Number.isInteger(pid) || !pidAlive(pid)) {
        await fsp.rm(join(this.ingestDir, name), { force: true });
        n++;
      }
    }
    return n;
  }
}

export class BlobWriter {
  private closed = false;
  constructor(
    private readonly store: ContentStore,
    readonly tempPath: string,
    private readonly fh: fsp.FileHandle,
    private readonly hash: Hash,
    readonly expected: Digest,
    readonly expectedSize: number | undefined,
    /** Bytes already in the ingest (adopted partial). */
    public offset: number,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.expectedSize !== undefined && this.offset + chunk.length > this.expectedSize) {
      throw new BerthError("INVALID_ARGUMENT", `blob ${this.expected} is larger than its descriptor's size ${this.expectedSize}`);
    }
    this.hash.update(chunk);
    this.offset += chunk.length;
    await this.fh.write(chunk);
  }

  /** Verify size and digest, fsync, and move into place. */
  async commit(): Promise<Digest> {
    const got = `${digestAlgorithm(this.expected)}:${this.hash.digest("hex")}` as Digest;
    try {
      if (this.expectedSize !== undefined && this.offset !== this.expectedSize) {
        throw new BerthError("INVALID_ARGUMENT", `blob ${this.expected} has ${this.offset} bytes, its descriptor says ${this.expectedSize}`);
      }
      if (got !== this.expected) throw new BerthError("INVALID_ARGUMENT", `digest mismatch for blob ${this.expected}: content hashes to ${got}`);
      await this.fh.sync();
      await this.fh.close();
      this.closed = true;
      await fsp.rename(this.tempPath, this.store.path(this.expected));
      return got;
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Keep the partial ingest for a later Range resume (the caller is dying or retrying elsewhere). */
  async detach(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => {});
    }
  }

  async abort(): Promise<void> {
    await this.detach();
    await fsp.rm(this.tempPath, { force: true });
  }
}
