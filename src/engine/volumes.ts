import type { Readable, Writable } from "node:stream";
import { invalid } from "../core/errors.js";
import type { VolumeRecord, VolumeStore } from "../volume/store.js";
import type { Containers } from "./containers.js";

/** Docker's `volume inspect` document. */
export interface VolumeInspect {
  Name: string;
  Driver: string;
  Mountpoint: string;
  /** RFC 3339, seconds. */
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: "local";
  /** berth extra: created for one container (anonymous). */
  Anonymous: boolean;
}

export interface CreateVolumeOptions {
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  /** The local driver's options; berth's local volumes are plain directories and take none yet. */
  options?: Record<string, string>;
}

export interface VolumesApi {
  create(req?: CreateVolumeOptions): Promise<VolumeInspect>;
  /** Docker filters: name (substring), label (k or k=v), dangling (true: unused), driver. */
  list(opts?: { filters?: Record<string, string[]> }): Promise<VolumeInspect[]>;
  inspect(name: string): Promise<VolumeInspect>;
  /** CONFLICT while a container (running or not) uses it; `force`: a missing volume is not an error. */
  remove(name: string, opts?: { force?: boolean }): Promise<void>;
  /** Remove every volume no container uses. */
  prune(opts?: { filters?: Record<string, string[]> }): Promise<{ removed: string[]; spaceReclaimed: number }>;
}

/** A side of a copy: a host path, or a path in a container. */
export interface CopyLocation {
  container?: string;
  path: string;
}

export interface FilesApi {
  /** `docker cp` between the host and a container (running or stopped), modes kept (owners too, as root). */
  copy(src: CopyLocation, dst: CopyLocation, opts?: { followLink?: boolean }): Promise<{ skipped: string[] }>;
  /** A tar of a container path (Docker's GET /containers/{id}/archive). */
  archive(container: string, path: string, out: Writable, opts?: { followLink?: boolean }): Promise<void>;
  /** Extract a tar into an existing directory of a container (Docker's PUT /containers/{id}/archive). */
  extract(container: string, path: string, input: Readable): Promise<void>;
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The `engine.volumes` facade over the volume store. */
export class Volumes implements VolumesApi {
  constructor(private readonly store: VolumeStore) {}

  private doc(v: VolumeRecord): VolumeInspect {
    return { Name: v.name, Driver: v.driver, Mountpoint: this.store.mountpoint(v.name), CreatedAt: isoSeconds(v.created), Labels: v.labels, Options: v.options, Scope: "local", Anonymous: v.anonymous };
  }

  async create(req: CreateVolumeOptions = {}): Promise<VolumeInspect> {
    const opts = Object.keys(req.options ?? {});
    // Docker's local driver would mount type/device/o at first use; berth's volumes are directories only.
    if (opts.length) throw invalid(`volume option "${opts[0]}" is not supported: berth's local volumes are plain directories (no --opt type/device/o mounts)`);
    const { volume } = this.store.create({ ...(req.name !== undefined ? { name: req.name } : {}), ...(req.driver ? { driver: req.driver } : {}), labels: req.labels ?? {} });
    return this.doc(volume);
  }

  async list(opts: { filters?: Record<string, string[]> } = {}): Promise<VolumeInspect[]> {
    const f = opts.filters ?? {};
    for (const k of Object.keys(f)) if (!["name", "label", "dangling", "driver"].includes(k)) throw invalid(`invalid filter "${k}": expected name, label, dangling or driver`);
    return this.store
      .list()
      .filter((v) => !f.name || f.name.some((n) => v.name.includes(n)))
      .filter((v) => !f.driver || f.driver.includes(v.driver))
      .filter((v) => !f.label || f.label.every((l) => labelMatches(v.labels, l)))
      .filter((v) => {
        if (!f.dangling) return true;
        const want = f.dangling.map((d) => {
          if (!["true", "1", "false", "0"].includes(d)) throw invalid(`invalid filter dangling=${d}: expected true or false`);
          return d === "true" || d === "1";
        });
        const unused = this.store.users(v.name).length === 0;
        return want.includes(unused);
      })
      .map((v) => this.doc(v));
  }

  async inspect(name: string): Promise<VolumeInspect> {
    return this.doc(this.store.require(name));
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.store.remove(name, opts);
  }

  async prune(opts: { filters?: Record<string, string[]> } = {}): Promise<{ removed: string[]; spaceReclaimed: number }> {
    const labels = opts.filters?.label ?? [];
    for (const k of Object.keys(opts.filters ?? {})) if (k !== "label") throw invalid(`invalid filter "${k}": expected label`);
    const candidates = this.store.list().filter((v) => labels.every((l) => labelMatches(v.labels, l)) && this.store.users(v.name).length === 0);
    let spaceReclaimed = 0;
    for (const v of candidates) spaceReclaimed += await this.store.size(v.name);
    const keep = new Set(candidates.map((v) => v.name));
    const removed = await this.store.prune((v) => keep.has(v.name));
    return { removed, spaceReclaimed };
  }
}

function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf("=");
  return eq < 0 ? filter in labels : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

/**
 * `engine.files`: copies between the host and containers. Every path inside a container is resolved as in a
 * chroot, one component at a time from directory fds (see volume/scoped-root.ts), in the container's root as
 * its processes see it (running) or a private overlay view of its layers (stopped).
 */
export class ContainerFiles implements FilesApi {
  constructor(private readonly containers: Containers) {}

  async copy(src: CopyLocation, dst: CopyLocation, opts: { followLink?: boolean } = {}): Promise<{ skipped: string[] }> {
    if (src.container !== undefined && dst.container !== undefined) throw invalid("copying between containers is not supported; copy to the host first");
    if (src.container === undefined && dst.container === undefined) throw invalid("one side of a copy must be a container path (CONTAINER:PATH)");
    if (!src.path || !dst.path) throw invalid("copy paths must not be empty");
    const { ScopedRoot } = await import("../volume/scoped-root.js");
    const { copyPath } = await import("../volume/copy-tree.js");
    const skipped: string[] = [];
    const ctr = (src.container ?? dst.container)!;
    await this.containers.withRootfs(ctr, (root, info) => {
      const inCtr = new ScopedRoot(root, `container ${info.name}`);
      const host = new ScopedRoot("/", "host");
      try {
        const end = (l: CopyLocation) => ({ root: l.container !== undefined ? inCtr : host, path: l.container !== undefined ? l.path : hostPath(l.path) });
        copyPath(end(src), end(dst), { owners: process.getuid?.() === 0, skipped, ...(opts.followLink ? { followLink: true } : {}) });
      } finally {
        inCtr.close();
        host.close();
      }
    });
    return { skipped };
  }

  async archive(container: string, path: string, out: Writable, opts: { followLink?: boolean } = {}): Promise<void> {
    const { ScopedRoot } = await import("../volume/scoped-root.js");
    const { packTree } = await import("../volume/tar.js");
    await this.containers.withRootfs(container, async (root, info) => {
      const r = new ScopedRoot(root, `container ${info.name}`);
      try {
        await packTree(r, path, out, opts);
      } finally {
        r.close();
      }
    });
  }

  async extract(container: string, path: string, input: Readable): Promise<void> {
    const { ScopedRoot } = await import("../volume/scoped-root.js");
    const { extractInto } = await import("../volume/tar.js");
    await this.containers.withRootfs(container, async (root, info) => {
      const r = new ScopedRoot(root, `container ${info.name}`);
      try {
        await extractInto(r, path, input, { owners: process.getuid?.() === 0 });
      } finally {
        r.close();
      }
    });
  }
}

/** A host path relative to the working directory, keeping a trailing "/" or "/." (they matter to cp). */
function hostPath(p: string): string {
  return p.startsWith("/") ? p : `${process.cwd()}/${p}`;
}
