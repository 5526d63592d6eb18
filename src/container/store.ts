import { conflict, invalid, notFound } from "../core/errors.js";
import { lazyCrypto } from "../core/lazy.js";
import type { ContainerOptions } from "../core/spec/types.js";
import type { Db } from "../store/db.js";
import { randomName } from "./names.js";

export type StoredState = "created" | "running" | "paused" | "restarting" | "exited";

export interface ContainerRecord {
  id: string;
  name: string;
  imageId: string;
  imageName: string;
  options: ContainerOptions;
  runtime: string;
  created: number;
  state: StoredState;
  pid: number;
  conmonPid: number;
  bootId: string | null;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  startedAt: number;
  finishedAt: number;
  restartCount: number;
  stoppedByUser: boolean;
  monitorPid: number;
}

interface Row {
  id: string;
  name: string;
  image_id: string;
  image_name: string;
  options: string;
  runtime: string;
  created: number;
  state: StoredState;
  pid: number;
  conmon_pid: number;
  boot_id: string | null;
  exit_code: number;
  oom_killed: number;
  error: string;
  started_at: number;
  finished_at: number;
  restart_count: number;
  stopped_by_user: number;
  monitor_pid: number;
}

const toRecord = (r: Row): ContainerRecord => ({
  id: r.id,
  name: r.name,
  imageId: r.image_id,
  imageName: r.image_name,
  options: JSON.parse(r.options) as ContainerOptions,
  runtime: r.runtime,
  created: r.created,
  state: r.state,
  pid: r.pid,
  conmonPid: r.conmon_pid,
  bootId: r.boot_id,
  exitCode: r.exit_code,
  oomKilled: !!r.oom_killed,
  error: r.error,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  restartCount: r.restart_count,
  stoppedByUser: !!r.stopped_by_user,
  monitorPid: r.monitor_pid,
});

const COLUMNS: Record<keyof Omit<ContainerRecord, "id">, string> = {
  name: "name",
  imageId: "image_id",
  imageName: "image_name",
  options: "options",
  runtime: "runtime",
  created: "created",
  state: "state",
  pid: "pid",
  conmonPid: "conmon_pid",
  bootId: "boot_id",
  exitCode: "exit_code",
  oomKilled: "oom_killed",
  error: "error",
  startedAt: "started_at",
  finishedAt: "finished_at",
  restartCount: "restart_count",
  stoppedByUser: "stopped_by_user",
  monitorPid: "monitor_pid",
};

export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Container rows: what was asked (options) and the last state berth recorded. */
export class ContainerStore {
  constructor(readonly db: Db) {}

  /** Insert a new container; a taken name is a CONFLICT naming the holder. */
  insert(rec: Omit<ContainerRecord, "id" | "name" | "state" | "pid" | "conmonPid" | "bootId" | "exitCode" | "oomKilled" | "error" | "startedAt" | "finishedAt" | "restartCount" | "stoppedByUser" | "monitorPid"> & { name?: string }): ContainerRecord {
    if (rec.name !== undefined && !NAME_RE.test(rec.name)) throw invalid(`invalid container name "${rec.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const id = lazyCrypto().randomBytes(32).toString("hex");
    for (let attempt = 0; ; attempt++) {
      const name = rec.name ?? randomName();
      try {
        this.db
          .prepare("INSERT INTO containers (id, name, image_id, image_name, options, runtime, created, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'created')")
          .run(id, name, rec.imageId, rec.imageName, JSON.stringify(rec.options), rec.runtime, rec.created);
        return this.get(id)!;
      } catch (e) {
        if ((e as { code?: string }).code !== "SQLITE_CONSTRAINT_UNIQUE" && (e as { code?: string }).code !== "SQLITE_CONSTRAINT_PRIMARYKEY") throw e;
        if (rec.name !== undefined) {
          const holder = this.db.prepare("SELECT id FROM containers WHERE name = ?").get(name) as { id: string } | undefined;
          throw conflict(`the container name "${name}" is already in use by ${holder?.id.slice(0, 12) ?? "another container"}; remove or rename that container first`);
        }
        if (attempt > 10) throw e;
      }
    }
  }

  get(id: string): ContainerRecord | undefined {
    const r = this.db.prepare("SELECT * FROM containers WHERE id = ?").get(id) as Row | undefined;
    return r && toRecord(r);
  }

  /** A full ID, a name, or a unique ID prefix (Docker's lookup order). */
  resolve(ref: string): ContainerRecord {
    if (!ref) throw invalid("container name or ID must not be empty");
    const byId = this.db.prepare("SELECT * FROM containers WHERE id = ?").get(ref) as Row | undefined;
    if (byId) return toRecord(byId);
    const byName = this.db.prepare("SELECT * FROM containers WHERE name = ?").get(ref.replace(/^\//, "")) as Row | undefined;
    if (byName) return toRecord(byName);
    if (/^[0-9a-f]+$/.test(ref)) {
      const rows = this.db.prepare("SELECT * FROM containers WHERE id LIKE ? LIMIT 2").all(`${ref}%`) as Row[];
      if (rows.length === 1) return toRecord(rows[0]!);
      if (rows.length > 1) throw invalid(`container ID prefix "${ref}" is ambiguous: give more characters`);
    }
    throw notFound(`no such container: ${ref}`);
  }

  list(): ContainerRecord[] {
    return (this.db.prepare("SELECT * FROM containers ORDER BY created DESC").all() as Row[]).map(toRecord);
  }

  update(id: string, fields: Partial<Omit<ContainerRecord, "id">>): void {
    const sets: string[] = [];
    const vals: unknown[] = [];
    for (const [k, v] of Object.entries(fields)) {
      const col = COLUMNS[k as keyof typeof COLUMNS];
      if (!col) continue;
      sets.push(`${col} = ?`);
      vals.push(k === "options" ? JSON.stringify(v) : typeof v === "boolean" ? (v ? 1 : 0) : v);
    }
    if (!sets.length) return;
    this.db.prepare(`UPDATE containers SET ${sets.join(", ")} WHERE id = ?`).run(...vals, id);
  }

  /**
   * Compare-and-set on the state: only one of several racing actors (the exit command, `stop`, `rm`) wins a
   * transition and does the work that goes with it.
   */
  transition(id: string, from: StoredState[], fields: Partial<Omit<ContainerRecord, "id">> & { state: StoredState }): boolean {
    return this.db.transaction(() => {
      const cur = this.get(id);
      if (!cur || !from.includes(cur.state)) return false;
      this.update(id, fields);
      return true;
    }).immediate();
  }

  rename(id: string, name: string): void {
    if (!NAME_RE.test(name)) throw invalid(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    try {
      this.db.prepare("UPDATE containers SET name = ? WHERE id = ?").run(name, id);
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") throw conflict(`the container name "${name}" is already in use`);
      throw e;
    }
  }

  delete(id: string): void {
    this.db.prepare("DELETE FROM containers WHERE id = ?").run(id);
  }

  imageIds(): Set<string> {
    return new Set((this.db.prepare("SELECT DISTINCT image_id FROM containers").all() as { image_id: string }[]).map((r) => r.image_id));
  }
}
