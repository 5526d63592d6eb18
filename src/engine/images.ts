import type { Readable, Writable } from "node:stream";
import type { BerthConfig } from "./config.js";
import type { Logger } from "../core/log.js";
import { parsePlatform, type Platform } from "../core/platform.js";
import { familiarName, parseReference } from "../core/reference.js";
import type { PullEvent } from "../image/pull.js";
import type { ImageStore, PruneResult, RemoveResult } from "../image/store.js";
import type { ImageRecord } from "../image/types.js";
import type { RegistryClientOptions } from "../image/registry/index.js";

/** Per-call registry access options (the CLI's --tls-verify, --cert-dir, --authfile, --creds). */
export interface RegistryAccess {
  tlsVerify?: boolean;
  certDir?: string;
  authfile?: string;
  creds?: { username: string; password: string };
  /** certs.d roots; tests point these at temp dirs. */
  certsDirs?: string[];
}

export interface PullRequest extends RegistryAccess {
  platform?: string | Platform;
  onEvent?: (e: PullEvent) => void;
  signal?: AbortSignal;
  concurrency?: number;
}

export interface SaveOptions {
  format?: "docker-archive" | "oci-archive";
  gzip?: boolean;
}

export interface ImportOptions {
  name?: string;
  changes?: string[];
  platform?: string | Platform;
  message?: string;
}

/** Docker-shaped image inspect document. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: string | null;
  Author: string;
  Architecture: string;
  Os: string;
  Variant?: string;
  Size: number;
  Config: unknown;
  RootFS: { Type: "layers"; Layers: string[] };
  ManifestDigest: string;
  ManifestMediaType: string;
  Layers: { Digest: string; MediaType: string; Size: number; DiffID: string; ChainID: string }[];
  History: unknown[];
  /** The snapshot dirs, top layer first, as overlayfs lower dirs (Docker's GraphDriver shape). */
  GraphDriver: { Name: "overlay"; Data: { LowerDir: string } };
}

/** Image operations of the engine. Heavy modules (registry client, unpacker, archives) load on first use. */
export class Images {
  constructor(
    readonly store: ImageStore,
    private readonly config: BerthConfig,
    private readonly log: Logger,
  ) {}

  private registryOptions(a: RegistryAccess): RegistryClientOptions {
    return {
      config: this.config,
      log: this.log,
      ...(a.tlsVerify !== undefined ? { tlsVerify: a.tlsVerify } : {}),
      ...(a.certDir ? { certDir: a.certDir } : {}),
      ...(a.certsDirs ? { certsDirs: a.certsDirs } : {}),
      ...(a.authfile ? { authfile: a.authfile } : {}),
      ...(a.creds ? { creds: a.creds } : {}),
    };
  }

  async pull(reference: string, req: PullRequest = {}): Promise<ImageRecord> {
    const ref = parseReference(reference);
    const { pull } = await import("../image/pull.js");
    const platform = typeof req.platform === "string" ? parsePlatform(req.platform) : req.platform;
    return pull(this.store, ref, {
      registry: this.registryOptions(req),
      log: this.log,
      ...(platform ? { platform } : {}),
      ...(req.onEvent ? { onEvent: req.onEvent } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.concurrency ? { concurrency: req.concurrency } : {}),
    });
  }

  list(): ImageRecord[] {
    return this.store.list();
  }

  get(nameOrId: string): ImageRecord {
    return this.store.resolve(nameOrId);
  }

  async inspect(nameOrId: string): Promise<ImageInspect> {
    const img = this.store.resolve(nameOrId);
    const config = await this.store.readConfig(img.id);
    return {
      Id: img.id,
      RepoTags: img.tags.map(familiarName),
      RepoDigests: img.repoDigests.map(familiarName),
      Created: config.created ?? null,
      Author: config.author ?? "",
      Architecture: config.architecture,
      Os: config.os,
      ...(config.variant ? { Variant: config.variant } : {}),
      Size: img.size,
      Config: config.config ?? {},
      RootFS: { Type: "layers", Layers: config.rootfs.diff_ids },
      ManifestDigest: img.manifestDigest,
      ManifestMediaType: img.manifestMediaType,
      Layers: img.layers.map((l) => ({ Digest: l.blobDigest, MediaType: l.mediaType, Size: l.blobSize, DiffID: l.diffId, ChainID: l.chainId })),
      History: config.history ?? [],
      GraphDriver: { Name: "overlay", Data: { LowerDir: img.layers.map((l) => this.store.snapshots.get(l.chainId)?.dir ?? "").reverse().join(":") } },
    };
  }

  tag(source: string, target: string): ImageRecord {
    return this.store.tag(source, target);
  }

  async remove(nameOrId: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    return this.store.remove(nameOrId, opts);
  }

  async prune(): Promise<PruneResult> {
    return this.store.prune();
  }

  async load(input: Readable, onEvent?: (msg: string) => void): Promise<ImageRecord[]> {
    const { loadArchive } = await import("../image/archive/index.js");
    return loadArchive(this.store, input, onEvent ? { onEvent } : {});
  }

  async save(names: string[], output: Writable, opts: SaveOptions = {}): Promise<void> {
    const { saveArchive } = await import("../image/archive/index.js");
    for (const n of names) this.store.resolve(n);
    await saveArchive(this.store, names, output, { format: opts.format ?? "docker-archive", gzip: !!opts.gzip });
  }

  /** Save to a file atomically: a temp file renamed into place, so a failed save leaves no partial archive. */
  async saveToFile(names: string[], file: string, opts: SaveOptions = {}): Promise<void> {
    const { createWriteStream, promises: fsp } = await import("node:fs");
    const { finished } = await import("node:stream/promises");
    const tmp = `${file}.berth-${process.pid}.tmp`;
    const out = createWriteStream(tmp, { mode: 0o644 });
    try {
      await this.save(names, out, opts);
      if (!out.writableEnded) out.end();
      await finished(out);
      await fsp.rename(tmp, file);
    } catch (e) {
      out.destroy();
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }

  async import(input: Readable, opts: ImportOptions = {}): Promise<ImageRecord> {
    const { importRootfs } = await import("../image/archive/index.js");
    const platform = typeof opts.platform === "string" ? parsePlatform(opts.platform) : opts.platform;
    return importRootfs(this.store, input, {
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.changes ? { changes: opts.changes } : {}),
      ...(platform ? { platform } : {}),
      ...(opts.message ? { message: opts.message } : {}),
    });
  }

  async login(domain: string, creds: { username: string; password: string }, access: RegistryAccess = {}): Promise<void> {
    const { login } = await import("../image/registry/index.js");
    await login(domain, creds, this.registryOptions(access));
  }

  async logout(domain: string, authfile?: string): Promise<void> {
    const { logout } = await import("../image/registry/index.js");
    await logout(domain, authfile);
  }
}
