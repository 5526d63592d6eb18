import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Digest } from "../core/digest.js";
import { internal } from "../core/errors.js";
import type { Db } from "../store/db.js";
import { pidAlive } from "../store/leases.js";

export interface Snapshot {
  id: number;
  chainId: Digest;
  parent: Digest | null;
  diffId: Digest;
  size: number;
  state: "extracting" | "ready";
  /** The directory overlayfs uses as a lower dir. */
  dir: string;
}

interface Row {
  id: number;
  chain_id: string;
  parent: string | null;
  diff_id: string;
  size: number;
  state: "extracting" | "ready";
  lease_id: string | null;
}

/** A reservation to extract one snapshot; exactly one of commit/abort must follow. */
export interface Reservation {
  readonly id: number;
  readonly dir: string;
  commit(size: number): void;
  abort(): Promise<void>;
}

/**
 * Per-layer snapshot dirs keyed by chain ID: root/snapshots/<n>/fs. Numeric dir names keep overlayfs
 * lowerdir strings short (the mount data is limited to one page). Each layer is its own dir, so layers of
 * one image can be extracted in parallel and shared between images.
 */
export class SnapshotStore {
  readonly dir: string;
  constructor(
    private readonly db: Db,
    root: string,
  ) {
    this.dir = join(root, "snapshots");
  }

  private toSnapshot(r: Row): Snapshot {
    return { id: r.id, chainId: r.chain_id as Digest, parent: r.parent as Digest | null, diffId: r.diff_id as Digest, size: r.size, state: r.state, dir: this.fsDir(r.id) };
  }

  fsDir(id: number): string {
    return join(this.dir, String(id), "fs");
  }

  get(chainId: Digest): Snapshot | undefined {
    const r = this.db.prepare("SELECT * FROM snapshots WHERE chain_id = ?").get(chainId) as Row | undefined;
    return r && this.toSnapshot(r);
  }

  isReady(chainId: Digest): boolean {
    return this.get(chainId)?.state === "ready";
  }

  /** Is the process that is extracting this row still alive? */
  private ownerAlive(r: Row): boolean {
    if (!r.lease_id) return false;
    const l = this.db.prepare("SELECT pid FROM leases WHERE id = ?").get(r.lease_id) as { pid: number } | undefined;
    return !!l && pidAlive(l.pid);
  }

  /**
   * Reserve a snapshot for extraction. Returns null when it is already ready (maybe made meanwhile by
   * another process); waits while a live process extracts it; takes over rows whose extractor died.
   */
  async reserve(chainId: Digest, parent: Digest | null, diffId: Digest, leaseId: string, signal?: AbortSignal): Promise<Reservation | null> {
    for (;;) {
      signal?.throwIfAborted();
      const outcome = this.db
        .transaction((): "ready" | "busy" | Row => {
          const r = this.db.prepare("SELECT * FROM snapshots WHERE chain_id = ?").get(chainId) as Row | undefined;
          if (r?.state === "ready") return "ready";
          if (r && this.ownerAlive(r)) {
            if (r.lease_id === leaseId) throw internal(`snapshot ${chainId} reserved twice by one operation`);
            return "busy";
          }
          if (r) this.db.prepare("DELETE FROM snapshots WHERE id = ?").run(r.id);
          const info = this.db
            .prepare("INSERT INTO snapshots (chain_id, parent, diff_id, state, lease_id, created) VALUES (?, ?, ?, 'extracting', ?, ?)")
            .run(chainId, parent, diffId, leaseId, Date.now());
          this.db.prepare("INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, 'snapshot', ?)").run(leaseId, chainId);
          return { id: Number(info.lastInsertRowid), chain_id: chainId, parent, diff_id: diffId, size: 0, state: "extracting", lease_id: leaseId, ...(r ? { stale: r.id } : {}) } as Row;
        })
        .immediate();
      if (outcome === "ready") return null;
      if (outcome === "busy") {
        await new Promise((res) => setTimeout(res, 100));
        continue;
      }
      const stale = (outcome as Row & { stale?: number }).stale;
      if (stale !== undefined) await fsp.rm(join(this.dir, String(stale)), { recursive: true, force: true });
      const id = outcome.id;
      const dir = this.fsDir(id);
      await fsp.rm(join(this.dir, String(id)), { recursive: true, force: true });
      await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
      return {
        id,
        dir,
        commit: (size: number) => void this.db.prepare("UPDATE snapshots SET state = 'ready', size = ?, lease_id = NULL WHERE id = ?").run(size, id),
        abort: async () => {
          await fsp.rm(join(this.dir, String(id)), { recursive: true, force: true });
          this.db.prepare("DELETE FROM snapshots WHERE id = ? AND state = 'extracting'").run(id);
        },
      };
    }
  }

  all(): Snapshot[] {
    return (this.db.prepare("SELECT * FROM snapshots").all() as Row[]).map((r) => this.toSnapshot(r));
  }

  /** Remove snapshots not in `keep` whose extractor (if any) is dead. Returns bytes freed. */
  async collect(keep: Set<string>): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    for (const r of this.db.prepare("SELECT * FROM snapshots").all() as Row[]) {
      if (keep.has(r.chain_id)) continue;
      if (r.state === "extracting" && this.ownerAlive(r)) continue;
      const gone = this.db.prepare("DELETE FROM snapshots WHERE id = ? AND state = ?").run(r.id, r.state).changes;
      if (!gone) continue;
      await fsp.rm(join(this.dir, String(r.id)), { recursive: true, force: true });
      count++;
      bytes += r.size;
    }
    // Dirs without a row (a crash after a row was deleted). List dirs before rows: a reservation inserts
    // its row before making its dir, so a dir listed here without a row is truly orphaned.
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    const ids = new Set((this.db.prepare("SELECT id FROM snapshots").all() as { id: number }[]).map((r) => String(r.id)));
    for (const name of names) {
      if (!ids.has(name)) await fsp.rm(join(this.dir, name), { recursive: true, force: true });
    }
    return { count, bytes };
  }
}
