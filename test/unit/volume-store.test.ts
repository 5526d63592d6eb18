import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { openDb } from "../../src/store/db.js";
import { VolumeStore } from "../../src/volume/store.js";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fixture() {
  const root = mkdtempSync(join(tmpdir(), "berth-unit-vol-"));
  dirs.push(root);
  const db = openDb(root);
  const addContainer = (id: string, name: string) =>
    db.prepare("INSERT INTO containers (id, name, image_id, image_name, options, runtime, created, state) VALUES (?, ?, 'i', 'img', '{}', 'runc', ?, 'created')").run(id, name, Date.now());
  return { root, db, store: new VolumeStore(db, root), addContainer };
}

test("create makes the row and <root>/volumes/<name>/_data; a second create of the name keeps it", () => {
  const { root, db, store } = fixture();
  const a = store.create({ name: "data", labels: { k: "v" } });
  assert.equal(a.created, true);
  assert.equal(a.volume.driver, "local");
  assert.equal(store.mountpoint("data"), join(root, "volumes", "data", "_data"));
  assert.ok(existsSync(store.mountpoint("data")));
  writeFileSync(join(store.mountpoint("data"), "f"), "x");
  const b = store.create({ name: "data" });
  assert.equal(b.created, false);
  assert.deepEqual(b.volume.labels, { k: "v" });
  assert.ok(existsSync(join(store.mountpoint("data"), "f")));
  assert.throws(() => store.create({ name: "x" }), /invalid volume name/);
  assert.throws(() => store.create({ name: "ok2", driver: "nfs" }), /not supported/);
  assert.match(store.create().volume.name, /^[0-9a-f]{64}$/);
  db.close();
});

test("attach records users (creating missing volumes); remove refuses used volumes, naming the container, until it is gone", async () => {
  const { root, db, store, addContainer } = fixture();
  addContainer("c1", "web");
  const created = store.attach("c1", [
    { name: "named", destination: "/d", anonymous: false },
    { name: "a".repeat(64), destination: "/a", anonymous: true },
  ]);
  assert.deepEqual(created, ["named", "a".repeat(64)]);
  assert.deepEqual(store.attach("c1", [{ name: "named", destination: "/d", anonymous: false }]), []);
  assert.deepEqual(store.users("named").map((u) => u.name), ["web"]);
  assert.deepEqual(store.usesOf("c1").filter((u) => u.anonymous).map((u) => u.name), ["a".repeat(64)]);
  await assert.rejects(store.remove("named"), /volume named is in use by container web/);
  await assert.rejects(store.remove("nosuch"), /no such volume: nosuch/);
  assert.equal(await store.remove("nosuch", { force: true }), false);
  assert.deepEqual(await store.removeUnused(["named"]), []);
  assert.deepEqual(await store.prune(), []);
  // The container's row goes: its uses cascade away.
  db.prepare("DELETE FROM containers WHERE id = 'c1'").run();
  assert.equal(await store.remove("named"), true);
  assert.deepEqual(await store.prune(), ["a".repeat(64)]);
  assert.deepEqual(readdirSync(join(root, "volumes")), []);
  db.close();
});

test("an orphan directory of a new volume's name (a crash) is not handed to it", () => {
  const { root, db, store } = fixture();
  const orphan = join(root, "volumes", "late", "_data");
  mkdirSync(orphan, { recursive: true });
  writeFileSync(join(orphan, "old"), "someone else's");
  store.create({ name: "late" });
  assert.deepEqual(readdirSync(store.mountpoint("late")), []);
  db.close();
});


