import assert from "node:assert/strict";
import { mkdtempSync, rmSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { sha256 } from "../../src/core/digest.js";
import { ContentStore } from "../../src/store/content.js";
import { openDb, schemaVersion } from "../../src/store/db.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { createLease, leasedKeys, reapDeadLeases } from "../../src/store/leases.js";
import { loadConfig } from "../../src/engine/config.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "berth-unit-"));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test("database migrates to the latest schema once", () => {
  const root = tmp();
  const db = openDb(root);
  assert.equal(schemaVersion(db), MIGRATIONS.length);
  db.close();
  const again = openDb(root);
  assert.equal(schemaVersion(again), MIGRATIONS.length);
  again.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  again.close();
  assert.throws(() => openDb(root), /newer than this berth/);
});

test("content store verifies digest and size before a blob becomes visible", async () => {
  const cs = new ContentStore(tmp());
  await cs.init();
  const d = await cs.put(Buffer.from("hello"));
  assert.equal(d, sha256("hello"));
  assert.equal((await cs.read(d)).toString(), "hello");
  await assert.rejects(cs.put(Buffer.from("evil"), sha256("good")), /digest mismatch for blob sha256:/);
  assert.equal(await cs.has(sha256("good")), false);
  const w = await cs.writer(sha256("abc"), 2);
  await assert.rejects(w.write(Buffer.from("abc")), /larger than its descriptor/);
  await w.abort();
  assert.deepEqual(readdirSync(cs.ingestDir), []);
});

test("a partial ingest of a dead writer is adopted for resume", async () => {
  const cs = new ContentStore(tmp());
  await cs.init();
  const full = Buffer.from("0123456789");
  const d = sha256(full);
  // pid 2^22+1 is above the default pid_max, so it is never alive.
  writeFileSync(join(cs.ingestDir, `sha256-${d.slice(7)}.4194305.dead`), full.subarray(0, 4));
  const w = await cs.writer(d, full.length, true);
  assert.equal(w.offset, 4);
  await w.write(full.subarray(4));
  assert.equal(await w.commit(), d);
  assert.equal((await cs.read(d)).toString(), "0123456789");
});

test("leases of dead processes are reaped", () => {
  const db = openDb(tmp());
  const l = createLease(db);
  l.add("blob", "sha256:x");
  assert.ok(leasedKeys(db, "blob").has("sha256:x"));
  db.prepare("INSERT INTO leases (id, pid, created) VALUES ('dead', 4194305, 0)").run();
  db.prepare("INSERT INTO lease_resources (lease_id, kind, key) VALUES ('dead', 'blob', 'sha256:y')").run();
  assert.ok(!leasedKeys(db, "blob").has("sha256:y"));
  assert.deepEqual(reapDeadLeases(db), ["dead"]);
  l.release();
  assert.equal(leasedKeys(db, "blob").size, 0);
  db.close();
});

test("config file: defaults, validation, clear errors", async () => {
  const d = tmp();
  const f = join(d, "berth.yaml");
  writeFileSync(f, "registries:\n  insecure: [\"reg.lan:5000\"]\n");
  assert.deepEqual((await loadConfig(f)).registries.insecure, ["reg.lan:5000"]);
  writeFileSync(f, "registries:\n  insecur: []\n");
  await assert.rejects(loadConfig(f), /registries: Unrecognized key/);
  writeFileSync(f, "a: [\n");
  await assert.rejects(loadConfig(f), /not valid YAML/);
  await assert.rejects(loadConfig(join(d, "missing.yaml")), /cannot read config file/);
});
