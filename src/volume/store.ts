import { existsSync, mkdirSync, promises as fsp, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { conflict, invalid, notFound } from "../core/errors.js";
import type { Db } from "../store/db.js";
import { checkVolumeName, randomVolumeName } from "./names.js";

export interface VolumeRecord {
  name: string;
  /** Always "local": a directory under the root. */
  driver: string;
  /** ms */
  created: number;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Created for one container (-v /path, --mount without a source, image VOLUMEs): `rm -v` and `--rm` remove it. */
  anonymous: boolean;
}

export interface VolumeUser {
  id: string;
  name: string;
  destination: string;
}

/** One volume a container uses, as recorded at its create. */
export interface VolumeUse {
  name: string;
  destination: string;
  anonymous: boolean;
}

export interface CreateVolumeRequest {
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  anonymous?: boolean;
}

interface Row {
  name: string;
  driver: string;
  created: number;
  labels: string;
  options: string;
  anonymous: number;
}

const toRecord = (r: Row): VolumeRecord => ({
  name: r.name,
  driver: r.driver,
  created: r.created,
  labels: JSON.parse(r.labels) as Record<string, string>,
  options: JSON.parse(r.options) as Record<string, string>,
  anonymous: !!r.anonymous,
});

/**
 * Named volumes: rows in SQLite and directories root/volumes/<name>/_data (Docker's layout). Every change
 * to both happens inside one IMMEDIATE transaction (the directory work is a mkdir or a rename, quick), so
 * a `volume rm` and a `run -v NAME:...` racing for the same name are serialised by the database's write
 * lock: a container never gets a directory that is being removed. Removal renames the directory to a
 * trash name first and deletes it after the commit; a crash in between leaves only trash, never a volume
 * with someone else's data.
 */
export class VolumeStore {
  readonly base: string;

  constructor(
    private readonly db: Db,
    root: string,
  ) {
    this.base = join(root, "volumes");
  }

  dir(name: string): string {
    return join(this.base, name);
  }

  /** The directory containers see: <root>/volumes/<name>/_data. */
  mountpoint(name: string): string {
    return join(this.base, name, "_data");
  }

  get(name: string): VolumeRecord | undefined {
    const r = this.db.prepare("SELECT * FROM volumes WHERE name = ?").get(name) as Row | undefined;
    return r && toRecord(r);
  }

  require(name: string): VolumeRecord {
    const v = this.get(name);
    if (!v) throw notFound(`no such volume: ${name}`);
    return v;
  }

  list(): VolumeRecord[] {
    return (this.db.prepare("SELECT * FROM volumes ORDER BY name").all() as Row[]).map(toRecord);
  }

  /** Containers (id, name) using a volume, in no particular order. */
  users(name: string): VolumeUser[] {
    return this.db
      .prepare("SELECT c.id AS id, c.name AS name, u.destination AS destination FROM volume_users u JOIN containers c ON c.id = u.container_id WHERE u.volume = ? ORDER BY c.created")
      .all(name) as VolumeUser[];
  }

  /** Volumes a container uses, with where it mounts them. */
  usesOf(containerId: string): VolumeUse[] {
    return (this.db.prepare("SELECT u.volume AS name, u.destination AS destination, v.anonymous AS anonymous FROM volume_users u JOIN volumes v ON v.name = u.volume WHERE u.container_id = ?").all(containerId) as { name: string; destination: string; anonymous: number }[]).map(
      (r) => ({ name: r.name, destination: r.destination, anonymous: !!r.anonymous }),
    );
  }

  /**
   * `volume create`: Docker's semantics, so an existing volume of that name is returned as it is (a second
   * `create` of the same name is not an error). Only the local driver exists.
   */
  create(req: CreateVolumeRequest = {}): { volume: VolumeRecord; created: boolean } {
    const driver = req.driver ?? "local";
    if (driver !== "local") throw invalid(`volume driver "${driver}" is not supported: only "local" is`);
    const name = req.name === undefined || req.name === "" ? randomVolumeName() : checkVolumeName(req.name);
    return this.db.transaction(() => {
      const cur = this.get(name);
      if (cur) return { volume: cur, created: false };
      const v = this.insertLocked(name, req.labels ?? {}, req.options ?? {}, !!req.anonymous);
      return { volume: v, created: true };
    }).immediate();
  }

  /** Inside a transaction: the row and a fresh, empty directory (an orphan directory of the name goes to the trash). */
  private insertLocked(name: string, labels: Record<string, string>, options: Record<string, string>, anonymous: boolean): VolumeRecord {
    const dir = this.dir(name);
    mkdirSync(this.base, { recursive: true, mode: 0o711 });
    if (existsSync(dir)) renameSync(dir, this.trashName());
    mkdirSync(dir, { mode: 0o711 });
    mkdirSync(join(dir, "_data"), { mode: 0o755 });
    this.db.prepare("INSERT INTO volumes (name, driver, created, labels, options, anonymous) VALUES (?, 'local', ?, ?, ?, ?)").run(name, Date.now(), JSON.stringify(labels), JSON.stringify(options), anonymous ? 1 : 0);
    return this.get(name)!;
  }

  private trashName(): string {
    return join(this.base, `.trash-${randomVolumeName().slice(0, 16)}`);
  }

  /**
   * A container's create: in one transaction, create the volumes it names that do not exist yet (named ones
   * on first use, as Docker does, and its anonymous ones) and record it as a user of each. Returns the names
   * this call created (to be removed again if the create fails later).
   */
  attach(containerId: string, uses: VolumeUse[]): string[] {
    if (!uses.length) return [];
    return this.db.transaction(() => {
      const created: string[] = [];
      for (const u of uses) {
        if (!this.get(u.name)) {
          this.insertLocked(checkVolumeName(u.name), {}, {}, u.anonymous);
          created.push(u.name);
        }
        this.db.prepare("INSERT OR IGNORE INTO volume_users (volume, container_id, destination) VALUES (?, ?, ?)").run(u.name, containerId, u.destination);
      }
      return created;
    }).immediate();
  }

  /**
   * Remove a volume. In use by a container (running or not, as Docker): CONFLICT naming it. `force` only
   * makes a missing volume not an error (Docker's `volume rm -f`).
   */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<boolean> {
    const trash = this.db.transaction(() => {
      const v = this.get(name);
      if (!v) {
        if (opts.force) return undefined;
        throw notFound(`no such volume: ${name}`);
      }
      const users = this.users(name);
      if (users.length) {
        const list = [...new Set(users.map((u) => u.name))];
        throw conflict(`volume ${name} is in use by container${list.length > 1 ? "s" : ""} ${list.join(", ")}; remove ${list.length > 1 ? "them" : "it"} first`);
      }
      return this.unlinkLocked(name);
    }).immediate();
    if (trash === undefined) return false;
    if (trash) await fsp.rm(trash, { recursive: true, force: true });
    return true;
  }

  /** Inside a transaction: drop the row and move the directory to the trash (returned, "" if none). */
  private unlinkLocked(name: string): string {
    this.db.prepare("DELETE FROM volumes WHERE name = ?").run(name);
    const dir = this.dir(name);
    if (!existsSync(dir)) return "";
    const trash = this.trashName();
    renameSync(dir, trash);
    return trash;
  }

  /** Remove volumes that nobody uses any more (a failed create's, `rm -v`'s anonymous ones); skips used ones. */
  async removeUnused(names: string[]): Promise<string[]> {
    const removed: string[] = [];
    const trashes = this.db.transaction(() => {
      const out: string[] = [];
      for (const n of names) {
        if (!this.get(n) || this.users(n).length) continue;
        out.push(this.unlinkLocked(n));
        removed.push(n);
      }
      return out;
    }).immediate();
    await Promise.all(trashes.filter(Boolean).map((t) => fsp.rm(t, { recursive: true, force: true })));
    return removed;
  }

  /** Every volume no container uses (Podman's `volume prune`; Docker 23+ keeps named ones unless -a). */
  async prune(filter: (v: VolumeRecord) => boolean = () => true): Promise<string[]> {
    const unused = (this.db.prepare("SELECT * FROM volumes WHERE name NOT IN (SELECT volume FROM volume_users) ORDER BY name").all() as Row[]).map(toRecord).filter(filter);
    const removed = await this.removeUnused(unused.map((v) => v.name));
    await this.emptyTrash();
    return removed;
  }

  /** Trash left by a crash between a removal's commit and its delete. */
  async emptyTrash(): Promise<void> {
    let names: string[] = [];
    try {
      names = readdirSync(this.base).filter((n) => n.startsWith(".trash-"));
    } catch {
      return;
    }
    await Promise.all(names.map((n) => fsp.rm(join(this.base, n), { recursive: true, force: true })));
  }

  /** Every volume, used or not (system reset, after the containers are gone). */
  async removeAll(): Promise<void> {
    await this.removeUnused(this.list().map((v) => v.name));
    await this.emptyTrash();
  }

  /** Bytes under a volume's directory (for prune's "reclaimed space"); symlinks are not followed. */
  async size(name: string): Promise<number> {
    return duBytes(this.mountpoint(name));
  }
}

async function duBytes(path: string): Promise<number> {
  let total = 0;
  const st = await fsp.lstat(path).catch(() => undefined);
  if (!st) return 0;
  total += st.isDirectory() ? 0 : st.size;
  if (st.isDirectory()) {
    for (const n of await fsp.readdir(path).catch(() => [] as string[])) total += await duBytes(join(path, n));
  }
  return total;
}
