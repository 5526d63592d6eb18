import { lazyCrypto } from "../core/lazy.js";
import type { Db } from "./db.js";

/**
 * A lease protects resources a running operation (a pull, a load) has made but nothing references yet,
 * so a concurrent prune does not collect them. A lease whose owning process is gone is dead: its
 * resources are garbage unless something else references them.
 */
export interface Lease {
  readonly id: string;
  add(kind: "blob" | "snapshot", key: string): void;
  release(): void;
}

export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function createLease(db: Db): Lease {
  const id = lazyCrypto().randomBytes(8).toString("hex");
  db.prepare("INSERT INTO leases (id, pid, created) VALUES (?, ?, ?)").run(id, process.pid, Date.now());
  const add = db.prepare("INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, ?, ?)");
  return {
    id,
    add: (kind, key) => void add.run(id, kind, key),
    release: () => void db.prepare("DELETE FROM leases WHERE id = ?").run(id),
  };
}

/** Keys of resources of one kind held by live leases. */
export function leasedKeys(db: Db, kind: "blob" | "snapshot"): Set<string> {
  const rows = db.prepare("SELECT l.pid, r.key FROM lease_resources r JOIN leases l ON l.id = r.lease_id WHERE r.kind = ?").all(kind) as { pid: number; key: string }[];
  return new Set(rows.filter((r) => pidAlive(r.pid)).map((r) => r.key));
}

/** Drop leases of dead processes; returns their ids. */
export function reapDeadLeases(db: Db): string[] {
  const rows = db.prepare("SELECT id, pid FROM leases").all() as { id: string; pid: number }[];
  const dead = rows.filter((r) => !pidAlive(r.pid)).map((r) => r.id);
  const del = db.prepare("DELETE FROM leases WHERE id = ?");
  db.transaction(() => dead.forEach((id) => del.run(id)))();
  return dead;
}
