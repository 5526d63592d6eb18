import type { Digest } from "../core/digest.js";
import type { Platform } from "../core/platform.js";
import type { Reference } from "../core/reference.js";
import type { ContentStore } from "../store/content.js";
import type { Lease } from "../store/leases.js";

export interface LayerRecord {
  blobDigest: Digest;
  mediaType: string;
  blobSize: number;
  diffId: Digest;
  chainId: Digest;
}

export interface ImageRecord {
  /** Config digest: Docker's image ID. */
  id: Digest;
  manifestDigest: Digest;
  manifestMediaType: string;
  platform: Platform;
  /** Unpacked size in bytes. */
  size: number;
  created?: string;
  addedAt: number;
  /** Full names: docker.io/library/busybox:latest */
  tags: string[];
  /** repo@digest, as pulled. */
  repoDigests: string[];
  layers: LayerRecord[];
}

export interface CommitRequest {
  /** The image's platform manifest; it, its config and its layer blobs must already be in the content store. */
  manifestDigest: Digest;
  /** Tags to point at the image (moved from any other image that had them). */
  tags: Reference[];
  repoDigests?: { repository: string; digest: Digest }[];
  lease: Lease;
  /** Called as snapshots are unpacked from stored blobs. */
  onLayer?: (ev: { digest: Digest; status: "exists" | "extracting" | "done" }) => void;
}

/** What archive loaders and importers need: put content, then commit an image atomically. */
export interface ImageWriter {
  readonly content: ContentStore;
  createLease(): Lease;
  /**
   * Make the image visible: unpack any missing snapshots from stored blobs, verify diff_ids against the
   * config, then write image rows and tags in one transaction. On failure nothing becomes visible.
   */
  commit(req: CommitRequest): Promise<ImageRecord>;
}

/** Read side: resolve a user's name for an image and list images. */
export interface ImageReader {
  readonly content: ContentStore;
  /** A tag (busybox, busybox:1), a full or unique-prefix ID (with or without sha256:), or repo@digest. */
  resolve(nameOrId: string): ImageRecord;
  list(): ImageRecord[];
}
