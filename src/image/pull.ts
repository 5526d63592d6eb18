import { mapLimit } from "../core/map-limit.js";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { Digest } from "../core/digest.js";
import { BerthError, notFound } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { ACCEPT_MANIFESTS, layerCompression, parseImageConfig, parseManifestBytes, type Descriptor, type Manifest } from "../core/oci.js";
import { formatPlatform, hostPlatform, platformMatches, type Platform } from "../core/platform.js";
import { formatReference, parseReference, repositoryOf, type Reference } from "../core/reference.js";
import type { Lease } from "../store/leases.js";
import { RegistryClient, type RegistryClientOptions } from "./registry/index.js";
import { ImageStore } from "./store.js";
import type { ImageRecord, LayerRecord } from "./types.js";
import { applyLayer } from "./unpack/index.js";

const WRITE_BATCH = 1 << 20;

export type LayerStatus = "waiting" | "exists" | "downloading" | "extracting" | "verifying" | "done";

export type PullEvent =
  | { type: "resolved"; reference: string; digest: Digest; platform: string }
  | { type: "layer"; digest: Digest; size: number; status: LayerStatus }
  | { type: "progress"; digest: Digest; current: number; total: number }
  | { type: "done"; image: ImageRecord };

export interface PullOptions {
  platform?: Platform;
  registry: RegistryClientOptions;
  /** Layers fetched at once; each goes straight from the network into its own snapshot dir. */
  concurrency?: number;
  onEvent?: (e: PullEvent) => void;
  signal?: AbortSignal;
  log?: Logger;
}

/**
 * Pull an image: resolve the reference, pick the platform from an index, then stream every layer from
 * the registry through the content store's verifying writer and the unpacker at once. Everything made on
 * the way is held by a lease; the image becomes visible only in the final commit.
 */
export async function pull(store: ImageStore, input: string | Reference, opts: PullOptions): Promise<ImageRecord> {
  const ref = typeof input === "string" ? parseReference(input) : input;
  const want = opts.platform ?? hostPlatform();
  const emit = opts.onEvent ?? (() => {});
  const client = new RegistryClient(ref.domain, opts.registry);
  const lease = store.createLease();
  try {
    const top = await client.getManifest(ref.path, ref.digest ?? ref.tag!, ACCEPT_MANIFESTS);
    let parsed = parseManifestBytes(top.bytes, top.mediaType);
    let manifestBytes = top.bytes;
    let manifestDigest = top.digest;
    if (parsed.kind === "index") {
      const pick = parsed.index.manifests.find((m) => platformMatches(want, m.platform));
      if (!pick) {
        const have = parsed.index.manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
        throw notFound(`${formatReference(ref)} has no image for ${formatPlatform(want)} (available: ${have.join(", ") || "none"})`);
      }
      const m = await client.getManifest(ref.path, pick.digest, ACCEPT_MANIFESTS);
      parsed = parseManifestBytes(m.bytes, m.mediaType);
      if (parsed.kind !== "manifest") throw new BerthError("INVALID_ARGUMENT", `${formatReference(ref)}: nested image indexes are not supported`);
      manifestBytes = m.bytes;
      manifestDigest = m.digest;
    }
    const manifest: Manifest = parsed.manifest;
    emit({ type: "resolved", reference: formatReference(ref), digest: top.digest, platform: formatPlatform(want) });

    await store.content.put(manifestBytes, manifestDigest);
    lease.add("blob", manifestDigest);
    const configDigest = manifest.config.digest;
    lease.add("blob", configDigest);
    const configBytes = (await store.content.has(configDigest)) ? await store.content.read(configDigest) : await client.getBlob(ref.path, manifest.config);
    await store.content.put(configBytes, configDigest);
    const config = parseImageConfig(configBytes);
    if (config.os !== want.os || config.architecture !== want.architecture) {
      opts.log?.warn(`image ${formatReference(ref)} is for ${config.os}/${config.architecture}, not ${formatPlatform(want)}`);
    }
    const layers = ImageStore.layersOf(manifest, config);
    for (const l of layers) emit({ type: "layer", digest: l.blobDigest, size: l.blobSize, status: "waiting" });

    await mapLimit(layers, opts.concurrency ?? 4, (l, i) => fetchLayer(store, client, ref, l, i > 0 ? layers[i - 1]!.chainId : null, lease, emit, opts.signal));

    const image = await store.commit({
      manifestDigest,
      tags: ref.tag ? [ref] : [],
      repoDigests: [{ repository: repositoryOf(ref), digest: top.digest }],
      lease,
    });
    emit({ type: "done", image });
    return image;
  } finally {
    lease.release();
    await client.close();
  }
}

async function fetchLayer(
  store: ImageStore,
  client: RegistryClient,
  ref: Reference,
  l: LayerRecord,
  parent: Digest | null,
  lease: Lease,
  emit: (e: PullEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const desc: Pick<Descriptor, "digest" | "size"> = { digest: l.blobDigest, size: l.blobSize };
  lease.add("blob", l.blobDigest);
  const haveBlob = await store.content.has(l.blobDigest);
  if (haveBlob && store.snapshots.isReady(l.chainId)) {
    emit({ type: "layer", digest: l.blobDigest, size: l.blobSize, status: "exists" });
    return;
  }
  if (haveBlob) {
    await store.ensureSnapshot(l, parent, lease, (e) => emit({ type: "layer", digest: l.blobDigest, size: l.blobSize, status: e.status }));
    return;
  }
  const res = await store.snapshots.reserve(l.chainId, parent, l.diffId, lease.id, signal);
  const writer = await store.content.writer(l.blobDigest, l.blobSize, true);
  const resumedAt = writer.offset;
  emit({ type: "layer", digest: l.blobDigest, size: l.blobSize, status: "downloading" });
  const net = client.blobStream(ref.path, desc, resumedAt);
  // Errors reach us through the iterator below; this keeps one raised while nobody iterates from
  // becoming an uncaught 'error' event.
  net.on("error", () => {});
  // An interrupted pull stops reading at once; its partial blob stays in ingest/ for a Range resume.
  const onAbort = () => net.destroy(new BerthError("UNAVAILABLE", "pull interrupted"));
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let netDone = false;
  let lastEmit = 0;
  const progress = () => {
    const now = Date.now();
    if (now - lastEmit >= 100 || writer.offset === l.blobSize) {
      lastEmit = now;
      emit({ type: "progress", digest: l.blobDigest, current: writer.offset, total: l.blobSize });
    }
  };
  // One pass over the network bytes: into the ingest file (hashing) and into the unpacker. An adopted
  // partial ingest from a dead pull is replayed into the unpacker only; the network resumes after it.
  async function* tee(): AsyncGenerator<Buffer> {
    if (resumedAt > 0 && res) yield* createReadStream(writer.tempPath, { start: 0, end: resumedAt - 1 }) as AsyncIterable<Buffer>;
    // Network chunks are small (~64 KiB); each write is a thread-pool round trip that the layer waits
    // on, so batch them. destroyOnReturn: false so that, if the unpacker stops early, blobFault can
    // still read the rest.
    let batch: Buffer[] = [];
    let bytes = 0;
    const flush = async (): Promise<Buffer> => {
      const b = batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes);
      batch = [];
      bytes = 0;
      await writer.write(b);
      progress();
      return b;
    };
    for await (const chunk of net.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      batch.push(chunk);
      bytes += chunk.length;
      if (bytes >= WRITE_BATCH) yield await flush();
    }
    if (bytes > 0) yield await flush();
    netDone = true;
  }
  try {
    if (res) {
      try {
        const r = await applyLayer(Readable.from(tee(), { objectMode: false }), res.dir, { compression: layerCompression(l.mediaType), expectedDiffId: l.diffId, ...(signal ? { signal } : {}) });
        emit({ type: "layer", digest: l.blobDigest, size: l.blobSize, status: "verifying" });
        await writer.commit();
        res.commit(r.size);
      } catch (e) {
        await res.abort();
        throw await blobFault(e);
      }
    } else {
      // Someone else made the snapshot meanwhile; we still keep the blob.
      for await (const _ of tee()) void _;
      await writer.commit();
    }
    emit({ type: "layer", digest: l.blobDigest, size: l.blobSize, status: "done" });
  } catch (e) {
    net.destroy();
    if (e instanceof BerthError && e.code === "UNAVAILABLE") await writer.detach();
    else await writer.abort();
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }

  /**
   * When unpacking fails, a corrupt blob is the likelier story than a bad layer: finish reading the blob
   * and, if its digest does not match, report that (naming the digest) instead of the tar error.
   */
  async function blobFault(e: unknown): Promise<unknown> {
    if (e instanceof BerthError && e.code === "UNAVAILABLE") return e;
    try {
      if (!netDone) for await (const chunk of net as AsyncIterable<Buffer>) await writer.write(chunk);
      await writer.commit();
    } catch (verify) {
      if (verify instanceof BerthError && /digest mismatch|larger than|has \d+ bytes/.test(verify.message)) return verify;
    }
    return e;
  }
}

