import { createWriteStream, promises as fsp } from "node:fs";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import * as tar from "tar-stream";
import { sha256 } from "../../core/digest.js";
import { BerthError, invalid } from "../../core/errors.js";
import { MediaType } from "../../core/oci.js";
import { hostPlatform, type Platform } from "../../core/platform.js";
import { parseTagReference } from "../../core/reference.js";
import type { ImageRecord, ImageWriter } from "../types.js";
import { copyIntoStore, HashCounter, ingestTempPath } from "./blob-io.js";
import { applyChanges } from "./changes.js";
import { openTar } from "./compress.js";

export interface ImportOptions {
  name?: string;
  /** Dockerfile-like changes: "CMD=...", "ENV=K=V", "ENTRYPOINT=...", "WORKDIR=...", "USER=...", "LABEL=k=v", "EXPOSE=80/tcp". */
  changes?: string[];
  platform?: Platform;
  message?: string;
}

/**
 * Feeds every byte to a tar parser on the side, so a truncated or corrupt rootfs tar is refused here
 * rather than when it is unpacked.
 */
class TarCheck extends Transform {
  private readonly extract = tar.extract();
  private failure: Error | undefined;
  private readonly finished: Promise<void>;

  constructor() {
    super();
    this.extract.on("entry", (_h, stream, next) => {
      stream.on("end", () => next());
      // A truncated member fails the parser, which reports it; the member's own error is the same news.
      stream.on("error", () => {});
      stream.resume();
    });
    this.finished = new Promise((resolve) => {
      this.extract.once("finish", () => resolve());
      this.extract.on("error", (e: Error) => {
        this.failure ??= e;
        resolve();
      });
    });
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.extract.destroy();
    cb(err);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.failure) return cb(this.failure);
    if (this.extract.write(chunk)) cb(null, chunk);
    else this.extract.once("drain", () => cb(this.failure ?? null, chunk));
  }

  override _flush(cb: TransformCallback): void {
    this.extract.end(undefined);
    void this.finished.then(() => cb(this.failure ?? null));
  }
}

/**
 * `import`: a plain root filesystem tar (optionally gzip or zstd) becomes a one-layer image. The layer is
 * stored gzip-compressed; one pass hashes the tar (diff_id) and the gzip stream (blob digest).
 */
export async function importRootfs(writer: ImageWriter, input: Readable, opts: ImportOptions = {}): Promise<ImageRecord> {
  // Everything the user can get wrong is checked before anything is written.
  let containerConfig;
  let tags;
  try {
    containerConfig = applyChanges({}, opts.changes ?? []);
    tags = opts.name ? [parseTagReference(opts.name)] : [];
  } catch (e) {
    input.destroy();
    throw e;
  }
  const platform = opts.platform ?? hostPlatform();
  const lease = writer.createLease();
  await writer.content.init();
  const tmp = ingestTempPath(writer.content, "import");
  try {
    const raw = new HashCounter();
    const gz = new HashCounter();
    try {
      const tarStream = await openTar(input, "the rootfs archive");
      await pipeline(tarStream, new TarCheck(), raw, createGzip(), gz, createWriteStream(tmp, { mode: 0o600 }));
    } catch (e) {
      if (e instanceof BerthError) throw e;
      const msg = (e as Error).message;
      throw invalid(`the rootfs archive is not a valid tar: ${/unexpected end/i.test(msg) ? "truncated (unexpected end of data)" : msg.replace(/\s+/g, " ")}`, e);
    }
    const layerDigest = gz.digest();
    const diffId = raw.digest();
    lease.add("blob", layerDigest);
    await copyIntoStore(writer.content, tmp, layerDigest, gz.size);

    const created = new Date().toISOString();
    const config = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: containerConfig,
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created, created_by: "import", ...(opts.message ? { comment: opts.message } : {}) }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = sha256(configBytes);
    lease.add("blob", configDigest);
    await writer.content.put(configBytes, configDigest);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: layerDigest, size: gz.size }],
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = sha256(manifestBytes);
    lease.add("blob", manifestDigest);
    await writer.content.put(manifestBytes, manifestDigest);
    return await writer.commit({ manifestDigest, tags, lease });
  } finally {
    await fsp.rm(tmp, { force: true });
    lease.release();
  }
}
