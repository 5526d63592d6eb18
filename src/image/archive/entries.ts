import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import * as tar from "tar-stream";
import type { Digest } from "../../core/digest.js";
import { BerthError, invalid } from "../../core/errors.js";
import type { BlobWriter, ContentStore } from "../../store/content.js";
import type { Lease } from "../../store/leases.js";
import { BatchedWriter, copyIntoStore, ingestTempPath } from "./blob-io.js";
import { archivePath } from "./docker-manifest.js";

/** Where the bytes of one archive member ended up after the single pass over the tar. */
export type EntryData =
  | { kind: "memory"; data: Buffer; digest: Digest; size: number }
  /** Already in the content store (its name was its digest), held by the load's lease. */
  | { kind: "blob"; digest: Digest; size: number; head: Buffer }
  /** A temp file in the content store's ingest dir (same filesystem), digest known. */
  | { kind: "spill"; path: string; digest: Digest; size: number; head: Buffer }
  /** Unusable (named for a digest it does not have); an error only if something refers to it. */
  | { kind: "bad"; reason: string };

export interface BlobInfo {
  digest: Digest;
  size: number;
  /** First bytes, to sniff a layer's compression. */
  head: Buffer;
}

/** Members small enough to keep in memory (manifests, configs, indexes, tiny layers), up to a total budget. */
const MEMORY_ENTRY_MAX = 1 << 20;
const MEMORY_TOTAL_MAX = 64 << 20;
const HEAD = 16;

/** blobs/sha256/<hex> in an OCI layout: the name is the digest, a mismatch is corruption. */
const OCI_BLOB = /^blobs\/sha256\/([a-f0-9]{64})$/;
/** <hex>.tar as skopeo writes layers (diff_id), <hex>.tar.gz as go-containerregistry does: a likely digest. */
const NAMED_BLOB = /(?:^|\/)([a-f0-9]{64})(?:\.tar|\.tar\.gz|\.tgz|\.tar\.zst)?$/;

/**
 * The members of an archive, read in one pass. Members whose names give their digest stream straight into
 * the content store; other large ones are spilled to temp files; small ones stay in memory. Nothing is put
 * in the store for good until a loader asks for it by name (`blob`), so unreferenced members cost nothing.
 */
export class ArchiveEntries {
  readonly files = new Map<string, EntryData>();
  readonly links = new Map<string, string>();

  constructor(
    private readonly content: ContentStore,
    private readonly lease: Lease,
  ) {}

  /** Follow symlinks and hard links (skopeo links legacy <id>/layer.tar to ../<diffid>.tar). */
  resolveName(name: string): string {
    let n = archivePath(name);
    for (let i = 0; i < 32 && !this.files.has(n); i++) {
      const t = this.links.get(n);
      if (!t) break;
      n = t;
    }
    return n;
  }

  has(name: string): boolean {
    try {
      return this.files.has(this.resolveName(name));
    } catch {
      return false;
    }
  }

  private entry(name: string): EntryData {
    const e = this.files.get(this.resolveName(name));
    if (!e) throw invalid(`archive member "${name}" is missing`);
    if (e.kind === "bad") throw invalid(`archive member "${name}" is corrupt: ${e.reason}`);
    return e;
  }

  /** Bytes of a small member (JSON documents). */
  async bytes(name: string, max = 16 << 20): Promise<Buffer> {
    const e = this.entry(name);
    if (e.kind === "memory") return e.data;
    if (e.kind === "bad") throw invalid(`archive member "${name}" is corrupt`);
    if (e.size > max) throw invalid(`archive member "${name}" is too large (${e.size} bytes) for a JSON document`);
    return e.kind === "blob" ? this.content.read(e.digest) : fsp.readFile(e.path);
  }

  info(name: string): BlobInfo {
    const e = this.entry(name);
    if (e.kind === "bad") throw invalid(`archive member "${name}" is corrupt`);
    return { digest: e.digest, size: e.size, head: e.kind === "memory" ? e.data.subarray(0, HEAD) : e.head };
  }

  /** Make sure a member is in the content store (under the lease) and return its digest and size. */
  async blob(name: string): Promise<BlobInfo> {
    const key = this.resolveName(name);
    const e = this.entry(key);
    const info = this.info(key);
    this.lease.add("blob", info.digest);
    if (e.kind === "memory") {
      if (!(await this.content.has(e.digest))) await this.content.put(e.data, e.digest);
    } else if (e.kind === "spill") {
      await copyIntoStore(this.content, e.path, e.digest, e.size);
      await fsp.rm(e.path, { force: true });
      this.files.set(key, { kind: "blob", digest: e.digest, size: e.size, head: e.head });
    }
    return info;
  }

  /** Remove spill files (blobs already in the store stay; the lease decides their fate). */
  async cleanup(): Promise<void> {
    for (const e of this.files.values()) if (e.kind === "spill") await fsp.rm(e.path, { force: true });
  }
}

function memberName(raw: string): string | undefined {
  const n = posix.normalize(raw.replace(/^\/+/, "")).replace(/\/$/, "");
  if (!n || n === ".") return undefined;
  return archivePath(n);
}

async function drain(s: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of s) {
    /* discard */
  }
}

/** Read a tar stream once into an ArchiveEntries. Throws BerthError INVALID_ARGUMENT on a malformed tar. */
export async function readEntries(input: Readable, content: ContentStore, lease: Lease): Promise<ArchiveEntries> {
  await content.init();
  const entries = new ArchiveEntries(content, lease);
  const extract = tar.extract();
  input.once("error", (e) => extract.destroy(e));
  // When the tar ends mid-member, the member's stream only says "destroyed": keep the parser's own error.
  let parseError: Error | undefined;
  extract.on("error", (e: Error) => (parseError ??= e));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  let memory = 0;
  let open: { w?: BlobWriter; spill?: string; out?: BatchedWriter } = {};
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = memberName(h.name);
      if (!name || (h.type !== "file" && h.type !== "contiguous-file")) {
        if (name && (h.type === "symlink" || h.type === "link") && h.linkname) {
          // Hard link names are archive paths; symlinks are relative to their directory. Links that
          // leave the archive are ignored: nothing is ever read through them.
          const target = h.type === "link" || h.linkname.startsWith("/") ? h.linkname : posix.join(posix.dirname(name), h.linkname);
          try {
            entries.links.set(name, archivePath(target));
          } catch {
            /* ignored */
          }
        }
        await drain(entry);
        continue;
      }
      const size = h.size ?? 0;
      const hash = createHash("sha256");
      const heads: Buffer[] = [];
      let headLen = 0;
      const keepHead = (c: Buffer) => {
        if (headLen < HEAD) {
          heads.push(Buffer.from(c.subarray(0, HEAD - headLen)));
          headLen += Math.min(c.length, HEAD - headLen);
        }
      };
      if (size <= MEMORY_ENTRY_MAX && memory + size <= MEMORY_TOTAL_MAX) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        const data = Buffer.concat(chunks);
        memory += data.length;
        entries.files.set(name, { kind: "memory", data, digest: `sha256:${hash.update(data).digest("hex")}`, size: data.length });
        continue;
      }
      const strict = OCI_BLOB.exec(name);
      const guess = strict ?? NAMED_BLOB.exec(name);
      const guessed = guess ? (`sha256:${guess[1]}` as Digest) : undefined;
      if (guessed && (await content.has(guessed))) {
        // Loading again what is already stored: only check that the member really is that blob.
        lease.add("blob", guessed);
        for await (const c of entry) {
          hash.update(c as Buffer);
          keepHead(c as Buffer);
        }
        const got = `sha256:${hash.digest("hex")}` as Digest;
        entries.files.set(name, got === guessed ? { kind: "blob", digest: got, size, head: Buffer.concat(heads) } : { kind: "bad", reason: `content hashes to ${got}` });
        continue;
      }
      if (guessed) {
        lease.add("blob", guessed);
        const w = await content.writer(guessed, size);
        const out = new BatchedWriter((b) => w.write(b));
        open = { w, out };
        for await (const c of entry) {
          // The blob writer verifies the digest; a name that only looks like a digest needs our own hash.
          if (!strict) hash.update(c as Buffer);
          keepHead(c as Buffer);
          await out.push(c as Buffer);
        }
        await out.close();
        open = {};
        const head = Buffer.concat(heads);
        if (strict) {
          try {
            await w.commit();
            entries.files.set(name, { kind: "blob", digest: guessed, size, head });
          } catch (e) {
            if (!(e instanceof BerthError && e.code === "INVALID_ARGUMENT")) throw e;
            entries.files.set(name, { kind: "bad", reason: e.message });
          }
          continue;
        }
        const got = `sha256:${hash.digest("hex")}` as Digest;
        if (got === guessed) {
          await w.commit();
          entries.files.set(name, { kind: "blob", digest: got, size, head });
        } else {
          // The name only looked like a digest: keep the bytes as a spill file under their real digest.
          await w.detach();
          const path = ingestTempPath(content, "archive");
          await fsp.rename(w.tempPath, path);
          entries.files.set(name, { kind: "spill", path, digest: got, size, head });
        }
        continue;
      }
      const path = ingestTempPath(content, "archive");
      const fh = await fsp.open(path, "w", 0o600);
      const out = new BatchedWriter((b) => fh.write(b));
      open = { spill: path, out };
      try {
        for await (const c of entry) {
          hash.update(c as Buffer);
          keepHead(c as Buffer);
          await out.push(c as Buffer);
        }
        await out.close();
      } finally {
        await out.settle();
        await fh.close();
      }
      open = {};
      entries.files.set(name, { kind: "spill", path, digest: `sha256:${hash.digest("hex")}`, size, head: Buffer.concat(heads) });
    }
  } catch (e) {
    await open.out?.settle();
    if (open.w) await open.w.abort();
    if (open.spill) await fsp.rm(open.spill, { force: true });
    await entries.cleanup();
    input.destroy();
    if ((e as { code?: string }).code === "INVALID_ARGUMENT") throw e;
    await new Promise((r) => setImmediate(r));
    const msg = (parseError ?? (e as Error)).message;
    throw invalid(/unexpected end|premature close|stream was destroyed/i.test(msg) ? "the archive is truncated (unexpected end of data)" : msg.replace(/\s+/g, " "), e);
  }
  return entries;
}
