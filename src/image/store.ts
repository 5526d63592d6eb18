import type { Readable } from "node:stream";
import { chainIds, isDigest, type Digest } from "../core/digest.js";
import { conflict, invalid, notFound } from "../core/errors.js";
import { layerCompression } from "../core/media-types.js";
import type { ImageConfig, Manifest } from "../core/oci.js";
import { familiarName, formatReference, parseReference, repositoryOf, type Reference } from "../core/reference.js";
import { ContentStore } from "../store/content.js";
import { openDb, type Db } from "../store/db.js";
import { createLease, leasedKeys, reapDeadLeases, type Lease } from "../store/leases.js";
import { SnapshotStore } from "./snapshots.js";
import type { CommitRequest, ImageReader, ImageRecord, ImageWriter, LayerRecord } from "./types.js";

interface ImageRow {
  id: string;
  manifest_digest: string;
  manifest_media_type: string;
  os: string;
  architecture: string;
  variant: string | null;
  size: number;
  created: string | null;
  added_at: number;
}

export interface RemoveResult {
  untagged: string[];
  deleted: Digest[];
}

export interface PruneResult {
  blobs: number;
  snapshots: number;
  bytes: number;
}

/** Applies a layer blob into an empty dir. Injected so the store does not load the unpacker until needed. */
export type LayerApplier = (source: Readable, target: string, opts: { compression: "none" | "gzip" | "zstd"; expectedDiffId?: Digest }) => Promise<{ diffId: Digest; size: number }>;

const defaultApplier: LayerApplier = async (source, target, opts) => (await import("./unpack/index.js")).applyLayer(source, target, opts);

/**
 * The image metadata store: images, tags and repo digests in SQLite, blobs in the content store, unpacked
 * layers in the snapshot store. Rows are written only after all content is in place, in one transaction.
 */
export class ImageStore implements ImageWriter, ImageReader {
  readonly snapshots: SnapshotStore;
  /** Something else (containers, later) may hold images; it answers which image IDs are in use. */
  inUse: () => Set<string> = () => new Set();

  private constructor(
    readonly db: Db,
    readonly content: ContentStore,
    readonly root: string,
    private readonly applier: LayerApplier,
  ) {
    this.snapshots = new SnapshotStore(db, root);
  }

  static async open(root: string, opts: { db?: Db; applier?: LayerApplier } = {}): Promise<ImageStore> {
    const db = opts.db ?? openDb(root);
    const content = new ContentStore(root);
    await content.init();
    return new ImageStore(db, content, root, opts.applier ?? defaultApplier);
  }

  close(): void {
    this.db.close();
  }

  createLease(): Lease {
    return createLease(this.db);
  }

  async readManifest(d: Digest): Promise<{ manifest: Manifest; mediaType: string }> {
    const { parseManifestBytes } = await import("../core/oci.js");
    const p = parseManifestBytes(await this.content.read(d));
    if (p.kind !== "manifest") throw invalid(`blob ${d} is an image index, not an image manifest`);
    return { manifest: p.manifest, mediaType: p.mediaType };
  }

  async readConfig(id: Digest): Promise<ImageConfig> {
    const { parseImageConfig } = await import("../core/oci.js");
    return parseImageConfig(await this.content.read(id));
  }

  /**
   * The config of a stored image, without re-validation: every config was validated before it was
   * committed, and content is addressed by digest. Starting a container then need not load the schema
   * library (a quarter of `berth run`'s own CPU time).
   */
  async readStoredConfig(id: Digest): Promise<ImageConfig> {
    if (!this.byId(id)) throw notFound(`no such image: ${id}`);
    return JSON.parse((await this.content.read(id)).toString()) as ImageConfig;
  }

  /** Unpack one layer from a stored blob into a new snapshot, unless it already exists. */
  async ensureSnapshot(layer: LayerRecord, parent: Digest | null, lease: Lease, onLayer?: CommitRequest["onLayer"]): Promise<number> {
    const res = await this.snapshots.reserve(layer.chainId, parent, layer.diffId, lease.id);
    if (!res) {
      onLayer?.({ digest: layer.blobDigest, status: "exists" });
      return this.snapshots.get(layer.chainId)!.size;
    }
    onLayer?.({ digest: layer.blobDigest, status: "extracting" });
    try {
      const r = await this.applier(this.content.stream(layer.blobDigest), res.dir, { compression: layerCompression(layer.mediaType), expectedDiffId: layer.diffId });
      res.commit(r.size);
      onLayer?.({ digest: layer.blobDigest, status: "done" });
      return r.size;
    } catch (e) {
      await res.abort();
      throw e;
    }
  }

  /** Layer records of a manifest+config pair, checking that they agree. */
  static layersOf(manifest: Manifest, config: ImageConfig): LayerRecord[] {
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw invalid(`image config lists ${diffIds.length} diff_ids but the manifest has ${manifest.layers.length} layers`);
    }
    const chains = chainIds(diffIds);
    return manifest.layers.map((l, i) => {
      layerCompression(l.mediaType);
      return { blobDigest: l.digest, mediaType: l.mediaType, blobSize: l.size, diffId: diffIds[i]!, chainId: chains[i]! };
    });
  }

  async commit(req: CommitRequest): Promise<ImageRecord> {
    const { manifest, mediaType } = await this.readManifest(req.manifestDigest);
    const id = manifest.config.digest;
    const config = await this.readConfig(id);
    const layers = ImageStore.layersOf(manifest, config);
    let size = 0;
    for (let i = 0; i < layers.length; i++) {
      const l = layers[i]!;
      if (!(await this.content.has(l.blobDigest)) && !this.snapshots.isReady(l.chainId)) throw notFound(`layer blob ${l.blobDigest} is missing from the content store`);
      size += await this.ensureSnapshot(l, i > 0 ? layers[i - 1]!.chainId : null, req.lease, req.onLayer);
    }
    this.db.transaction(() => {
      // The same config pulled again, maybe through another manifest (other compression): the newest
      // manifest and its layers win; names and the added time stay.
      this.db
        .prepare(
          `INSERT INTO images (id, manifest_digest, manifest_media_type, os, architecture, variant, size, created, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, manifest_media_type = excluded.manifest_media_type`,
        )
        .run(id, req.manifestDigest, mediaType, config.os, config.architecture, config.variant ?? null, size, config.created ?? null, Date.now());
      this.db.prepare("DELETE FROM image_layers WHERE image_id = ?").run(id);
      const ins = this.db.prepare("INSERT INTO image_layers (image_id, idx, blob_digest, media_type, blob_size, diff_id, chain_id) VALUES (?, ?, ?, ?, ?, ?, ?)");
      layers.forEach((l, i) => ins.run(id, i, l.blobDigest, l.mediaType, l.blobSize, l.diffId, l.chainId));
      const tag = this.db.prepare("INSERT OR REPLACE INTO image_tags (name, image_id) VALUES (?, ?)");
      for (const t of req.tags) tag.run(formatReference({ ...t, digest: undefined }), id);
      const rd = this.db.prepare("INSERT OR REPLACE INTO image_digests (repository, digest, image_id) VALUES (?, ?, ?)");
      for (const d of req.repoDigests ?? []) rd.run(d.repository, d.digest, id);
    })();
    return this.byId(id)!;
  }

  /** The image with exactly this ID (config digest), if stored. */
  byId(id: string): ImageRecord | undefined {
    const r = this.db.prepare("SELECT * FROM images WHERE id = ?").get(id) as ImageRow | undefined;
    return r && this.toRecord(r);
  }

  private toRecord(r: ImageRow): ImageRecord {
    const tags = (this.db.prepare("SELECT name FROM image_tags WHERE image_id = ? ORDER BY name").all(r.id) as { name: string }[]).map((t) => t.name);
    const digests = (this.db.prepare("SELECT repository, digest FROM image_digests WHERE image_id = ? ORDER BY repository").all(r.id) as { repository: string; digest: string }[]).map(
      (d) => `${d.repository}@${d.digest}`,
    );
    const layers = (this.db.prepare("SELECT * FROM image_layers WHERE image_id = ? ORDER BY idx").all(r.id) as Record<string, string | number>[]).map(
      (l): LayerRecord => ({
        blobDigest: l.blob_digest as Digest,
        mediaType: l.media_type as string,
        blobSize: l.blob_size as number,
        diffId: l.diff_id as Digest,
        chainId: l.chain_id as Digest,
      }),
    );
    return recordOf(r, tags, digests, layers);
  }

  /** All images, newest first, in three queries rather than three per image. */
  list(): ImageRecord[] {
    const rows = this.db.prepare("SELECT * FROM images ORDER BY added_at DESC, id").all() as ImageRow[];
    const tags = new Map<string, string[]>();
    for (const t of this.db.prepare("SELECT name, image_id FROM image_tags ORDER BY name").all() as { name: string; image_id: string }[]) {
      (tags.get(t.image_id) ?? tags.set(t.image_id, []).get(t.image_id)!).push(t.name);
    }
    const digests = new Map<string, string[]>();
    for (const d of this.db.prepare("SELECT repository, digest, image_id FROM image_digests ORDER BY repository").all() as { repository: string; digest: string; image_id: string }[]) {
      (digests.get(d.image_id) ?? digests.set(d.image_id, []).get(d.image_id)!).push(`${d.repository}@${d.digest}`);
    }
    // Listing never needs layers; inspect (resolve) loads them.
    return rows.map((r) => recordOf(r, tags.get(r.id) ?? [], digests.get(r.id) ?? [], []));
  }

  /** Find an image by tag, repo@digest, full ID or unique ID prefix (with or without "sha256:"). */
  resolve(nameOrId: string): ImageRecord {
    const id = this.resolveId(nameOrId);
    if (!id) throw notFound(`image "${nameOrId}" not found`);
    return this.byId(id)!;
  }

  private resolveId(s: string): string | undefined {
    const bare = s.startsWith("sha256:") ? s.slice(7) : s;
    if (/^[a-f0-9]{64}$/.test(bare)) {
      const r = this.db.prepare("SELECT id FROM images WHERE id = ?").get(`sha256:${bare}`) as { id: string } | undefined;
      if (r) return r.id;
    } else if (/^[a-f0-9]{3,63}$/.test(bare)) {
      const rows = this.db.prepare("SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2").all(`sha256:${bare}`, `sha256:${bare}g`) as { id: string }[];
      if (rows.length > 1) throw conflict(`image ID prefix "${s}" is ambiguous`);
      if (rows.length === 1) return rows[0]!.id;
    }
    let ref: Reference;
    try {
      ref = parseReference(s);
    } catch (e) {
      if (isDigest(s) || /^[a-f0-9]+$/.test(bare)) return undefined;
      throw e;
    }
    if (ref.digest) {
      const r = this.db.prepare("SELECT image_id FROM image_digests WHERE repository = ? AND digest = ?").get(repositoryOf(ref), ref.digest) as { image_id: string } | undefined;
      if (r) return r.image_id;
      const byManifest = this.db.prepare("SELECT i.id FROM images i JOIN image_tags t ON t.image_id = i.id WHERE i.manifest_digest = ? AND t.name LIKE ? ESCAPE '\\' LIMIT 1").get(ref.digest, `${repositoryOf(ref).replace(/[%_\\]/g, "\\$&")}:%`) as { id: string } | undefined;
      return byManifest?.id;
    }
    const r = this.db.prepare("SELECT image_id FROM image_tags WHERE name = ?").get(formatReference(ref)) as { image_id: string } | undefined;
    return r?.image_id;
  }

  tag(source: string, target: string): ImageRecord {
    const img = this.resolve(source);
    const ref = parseReference(target);
    if (ref.digest) throw invalid(`invalid reference "${target}": cannot tag with a digest`);
    this.db.prepare("INSERT OR REPLACE INTO image_tags (name, image_id) VALUES (?, ?)").run(formatReference(ref), img.id);
    return this.byId(img.id)!;
  }

  /**
   * Docker's rmi: a tag argument removes that tag, and the image once nothing names it; an ID argument
   * removes the image, which needs `force` when several tags name it. An image in use is never removed.
   */
  async remove(nameOrId: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    const img = this.resolve(nameOrId);
    const tag = this.tagNamed(nameOrId, img);
    const others = img.tags.filter((t) => t !== tag);
    if (tag && others.length > 0) {
      this.db.prepare("DELETE FROM image_tags WHERE name = ?").run(tag);
      return { untagged: [tag], deleted: [] };
    }
    if (!tag && others.length > 1 && !opts.force) {
      throw conflict(`image ${img.id.slice(7, 19)} is referenced by ${others.length} tags (${others.map(familiarName).join(", ")}): remove them by name or use --force`);
    }
    if (this.inUse().has(img.id)) throw conflict(`image ${img.id.slice(7, 19)} is in use by a container`);
    this.db.prepare("DELETE FROM images WHERE id = ?").run(img.id);
    await this.prune();
    return { untagged: [...img.tags, ...img.repoDigests], deleted: [img.id] };
  }

  /** The full tag name the user's argument denotes, if it is a tag of this image (not an ID or digest). */
  private tagNamed(arg: string, img: ImageRecord): string | undefined {
    if (img.id.includes(arg)) return undefined;
    try {
      const ref = parseReference(arg);
      const full = ref.digest ? undefined : formatReference(ref);
      return full && img.tags.includes(full) ? full : undefined;
    } catch {
      return undefined;
    }
  }

  /** Forget every image (system reset); prune then collects all blobs and snapshots. */
  async resetAll(): Promise<PruneResult> {
    this.db.prepare("DELETE FROM images").run();
    return this.prune();
  }

  /**
   * Garbage collection by reference: keep every blob and snapshot reachable from an image or held by a
   * live lease; remove the rest, plus ingest files and leases of dead processes.
   */
  async prune(): Promise<PruneResult> {
    reapDeadLeases(this.db);
    const keepSnap = leasedKeys(this.db, "snapshot");
    for (const r of this.db.prepare("SELECT DISTINCT chain_id FROM image_layers").all() as { chain_id: string }[]) keepSnap.add(r.chain_id);
    const snaps = await this.snapshots.collect(keepSnap);
    const keepBlob = leasedKeys(this.db, "blob");
    for (const r of this.db.prepare("SELECT id, manifest_digest FROM images").all() as { id: string; manifest_digest: string }[]) {
      keepBlob.add(r.id);
      keepBlob.add(r.manifest_digest);
    }
    for (const r of this.db.prepare("SELECT DISTINCT blob_digest FROM image_layers").all() as { blob_digest: string }[]) keepBlob.add(r.blob_digest);
    let blobs = 0;
    let bytes = snaps.bytes;
    for (const d of await this.content.list()) {
      if (keepBlob.has(d)) continue;
      bytes += await this.content.size(d).catch(() => 0);
      await this.content.delete(d);
      blobs++;
    }
    await this.content.cleanIngest();
    return { blobs, snapshots: snaps.count, bytes };
  }
}

function recordOf(r: ImageRow, tags: string[], repoDigests: string[], layers: LayerRecord[]): ImageRecord {
  return {
    id: r.id as Digest,
    manifestDigest: r.manifest_digest as Digest,
    manifestMediaType: r.manifest_media_type,
    platform: { os: r.os, architecture: r.architecture, ...(r.variant ? { variant: r.variant } : {}) },
    size: r.size,
    ...(r.created ? { created: r.created } : {}),
    addedAt: r.added_at,
    tags,
    repoDigests,
    layers,
  };
}
