import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS } from "./migrations.js";
import { BerthError } from "../core/errors.js";

export type Db = Database.Database;

/**
 * Open (creating if needed) the metadata database under the root dir. The schema version lives in
 * SQLite's user_version; migrations run in one transaction each, so a crash never leaves a half-migrated DB.
 */
export function openDb(root: string): Db {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  let db: Db;
  try {
    db = new Database(join(root, "berth.db"));
  } catch (e) {
    throw new BerthError("UNAVAILABLE", `cannot open database in ${root}: ${(e as Error).message}`, { cause: e });
  }
  db.pragma("busy_timeout = 10000");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  migrate(db);
  cacheStatements(db);
  return db;
}

/**
 * Compile each SQL text once per connection: a 200-node lab runs the same few queries thousands of times,
 * and compiling them again each time cost more than running them. Safe because no caller changes a
 * statement's modes (pluck, raw, expand) or iterates one while another use of it runs.
 */
function cacheStatements(db: Db): void {
  const compile = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let st = cache.get(sql);
    if (!st) cache.set(sql, (st = compile(sql)));
    return st;
  }) as Db["prepare"];
}

export function schemaVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}

function migrate(db: Db): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new BerthError("FAILED_PRECONDITION", `database schema v${current} is newer than this berth (v${MIGRATIONS.length}); upgrade berth`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    // IMMEDIATE takes the write lock first, so two processes opening a fresh root do not both migrate.
    db.transaction(() => {
      if (schemaVersion(db) !== v) return;
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
