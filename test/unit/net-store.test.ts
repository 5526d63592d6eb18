import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Worker } from "node:worker_threads";
import { ContainerStore } from "../../src/container/store.js";
import { routesFromJson, stableMac } from "../../src/core/net/index.js";
import { NetworkStore } from "../../src/network/store.js";
import { openDb, type Db } from "../../src/store/db.js";
import { berthError } from "../helpers/errors.js";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function root(): string {
  const d = mkdtempSync(join(tmpdir(), "berth-unit-net-"));
  dirs.push(d);
  return d;
}
function stores(dir = root()): { db: Db; nets: NetworkStore; ctrs: ContainerStore } {
  const db = openDb(dir);
  return { db, nets: new NetworkStore(db), ctrs: new ContainerStore(db) };
}
const base = { imageId: "sha256:" + "a".repeat(64), imageName: "busybox", options: { image: "busybox" }, runtime: "/usr/bin/runc", created: 1 };
const HOST = routesFromJson('[{"dst":"default","dev":"eth0"},{"dst":"172.17.0.0/16","dev":"docker0"},{"dst":"10.50.0.0/16","dev":"eth1"}]');

test("store: create, names, pool choices, resolve by ID, name and unique prefix", () => {
  const { nets } = stores();
  const a = nets.create({ name: "lab", subnets: [{ subnet: "10.1.0.0/16" }], options: { internal: true }, created: 5 });
  assert.match(a.id, /^[0-9a-f]{64}$/);
  assert.equal(a.driver, "bridge");
  assert.equal(a.interface, `br-${a.id.slice(0, 12)}`);
  assert.deepEqual(a.options, { internal: true });
  assert.deepEqual(a.subnets, [{ subnet: "10.1.0.0/16", family: 4, gateway: "10.1.0.1", ipRange: null }]);
  assert.throws(() => nets.create({ name: "lab" }), berthError("CONFLICT", new RegExp(`^network with name "lab" already exists \\(${a.id.slice(0, 12)}\\)$`)));
  assert.throws(() => nets.create({ name: "bad name" }), berthError("INVALID_ARGUMENT", /invalid network name "bad name"/));
  assert.throws(() => nets.create({ name: "host" }), berthError("INVALID_ARGUMENT", /reserved for --network host/));
  assert.throws(() => nets.create({ name: "mv", driver: "macvlan" }), berthError("INVALID_ARGUMENT", /needs a parent interface/));

  // No subnet given: the pool, skipping the host's docker0 route; IPv6 from the berth ULA /48.
  const b = nets.create({ name: "berth", interface: "berth0", ipv6: true, hostRanges: HOST });
  assert.equal(b.interface, "berth0");
  assert.deepEqual(b.subnets.map((s) => [s.subnet, s.gateway]), [["172.18.0.0/16", "172.18.0.1"], ["fd62:6572:7468::/64", "fd62:6572:7468::1"]]);
  const c = nets.create({ name: "c", ipv6: true });
  assert.deepEqual(c.subnets.map((s) => s.subnet), ["172.17.0.0/16", "fd62:6572:7468:1::/64"], "skips berth's own networks");
  // A given IPv6 subnet enables IPv6; ipv4:false makes an IPv6-only network; canonical text is stored.
  const d = nets.create({ name: "d", ipv4: false, subnets: [{ subnet: "FD00:DEAD:0::/64", gateway: "fd00:dead::fe", ipRange: "fd00:dead::100/120" }] });
  assert.deepEqual(d.subnets, [{ subnet: "fd00:dead::/64", family: 6, gateway: "fd00:dead::fe", ipRange: "fd00:dead::100/120" }]);
  assert.throws(() => nets.create({ name: "e", ipv4: false }), berthError("INVALID_ARGUMENT", /would have no subnet/));

  // Overlaps: other networks, host routes, each other. Nothing is left behind by a refused create.
  assert.throws(() => nets.create({ name: "o1", subnets: [{ subnet: "10.1.128.0/17" }] }), berthError("CONFLICT", /^subnet 10.1.128.0\/17 overlaps network "lab" \(10.1.0.0\/16\): choose another subnet$/));
  assert.throws(() => nets.create({ name: "o2", subnets: [{ subnet: "10.50.1.0/24" }], hostRanges: HOST }), berthError("CONFLICT", /overlaps host route 10.50.0.0\/16 dev eth1/));
  assert.throws(() => nets.create({ name: "o3", subnets: [{ subnet: "10.60.0.0/16" }, { subnet: "10.60.1.0/24" }] }), berthError("CONFLICT", /overlaps network "o3"/));
  assert.throws(() => nets.create({ name: "o4", subnets: [{ subnet: "10.60.0.1/16" }] }), berthError("INVALID_ARGUMENT", /it should be 10.60.0.0\/16/));
  assert.equal(nets.list().length, 4);
  assert.deepEqual(nets.list().map((n) => n.name), ["lab", "berth", "c", "d"]);

  assert.equal(nets.resolve("lab").id, a.id);
  assert.equal(nets.resolve(a.id).name, "lab");
  assert.equal(nets.resolve(a.id.slice(0, 6)).id, a.id);
  assert.throws(() => nets.resolve("nope"), berthError("NOT_FOUND", /^no such network: nope$/));
  assert.throws(() => nets.resolve(""), berthError("INVALID_ARGUMENT"));
  nets.create({ name: "p1", id: "abc1" + "0".repeat(60), subnets: [{ subnet: "10.70.0.0/24" }] });
  nets.create({ name: "p2", id: "abc2" + "0".repeat(60), subnets: [{ subnet: "10.71.0.0/24" }] });
  assert.throws(() => nets.resolve("abc"), berthError("INVALID_ARGUMENT", /network ID prefix "abc" is ambiguous/));
  assert.equal(nets.resolve("abc2").name, "p2");
});

test("store: connect allocates per family in order, interfaces eth0.. in connect order, stable MACs", () => {
  const { nets, ctrs } = stores();
  const n1 = nets.create({ name: "n1", ipv6: true, subnets: [{ subnet: "10.1.0.0/24" }, { subnet: "fd00:1::/64" }] });
  const n2 = nets.create({ name: "n2", subnets: [{ subnet: "10.2.0.0/24" }] });
  const web = ctrs.insert({ ...base, name: "web" });
  const db1 = ctrs.insert({ ...base, name: "db" });
  const a = nets.connect(web.id, n1.id, { aliases: ["www"] });
  assert.equal(a.interface, "eth0");
  assert.equal(a.position, 0);
  assert.equal(a.mac, stableMac(web.id, n1.id));
  assert.equal(a.containerName, "web");
  assert.equal(a.networkName, "n1");
  assert.deepEqual(a.aliases, ["www"]);
  assert.deepEqual(a.addresses, [
    { family: 4, address: "10.1.0.2", prefix: 24, gateway: "10.1.0.1" },
    { family: 6, address: "fd00:1::2", prefix: 64, gateway: "fd00:1::1" },
  ]);
  const b = nets.connect(web.id, n2.id, { mac: "02-AA-BB-CC-DD-EE" });
  assert.equal(b.interface, "eth1");
  assert.equal(b.mac, "02:aa:bb:cc:dd:ee");
  assert.throws(() => nets.connect(web.id, n2.id), berthError("CONFLICT", /is already connected to network "n2"/));
  const c = nets.connect(db1.id, n1.id, { ipv4: "10.1.0.50", ipv6: "FD00:1::0:50" });
  assert.deepEqual(c.addresses.map((x) => x.address), ["10.1.0.50", "fd00:1::50"]);
  // Static conflicts name the holder; a failed connect records nothing.
  const other = ctrs.insert({ ...base, name: "other" });
  assert.throws(() => nets.connect(other.id, n1.id, { ipv4: "10.1.0.2" }), berthError("CONFLICT", /^address 10.1.0.2 is already in use on network "n1" \(10.1.0.0\/24\) by container "web"$/));
  assert.throws(() => nets.connect(other.id, n1.id, { ipv4: "10.1.0.1" }), berthError("CONFLICT", /is the gateway of network "n1"/));
  assert.throws(() => nets.connect(other.id, n1.id, { ipv4: "10.9.0.1" }), berthError("INVALID_ARGUMENT", /^invalid address "10.9.0.1": not inside the IPv4 subnets of network "n1" \(10.1.0.0\/24\)$/));
  assert.throws(() => nets.connect(other.id, n2.id, { ipv6: "fd00:2::5" }), berthError("INVALID_ARGUMENT", /--ip6 fd00:2::5: network "n2" has no IPv6 subnet/));
  assert.throws(() => nets.connect(other.id, n1.id, { ipv4: "fd00:1::9" }), berthError("INVALID_ARGUMENT", /is an IPv6 address/));
  assert.deepEqual(nets.attachments(other.id), []);
  assert.equal(nets.addresses(n1.id, other.id).length, 0);
  // Dynamic allocation continues after the cursor (static ones do not move it).
  assert.deepEqual(nets.connect(other.id, n1.id).addresses.map((x) => x.address), ["10.1.0.3", "fd00:1::3"]);
  assert.throws(() => nets.connect("f".repeat(64), n1.id), berthError("NOT_FOUND", /no such container/));
  assert.throws(() => nets.connect(web.id, "0".repeat(64)), berthError("NOT_FOUND", /no such network/));

  assert.deepEqual(nets.attachments(web.id).map((x) => [x.networkName, x.interface]), [["n1", "eth0"], ["n2", "eth1"]]);
  assert.deepEqual(nets.members(n1.id).map((m) => [m.containerName, m.addresses[0]!.address]), [["web", "10.1.0.2"], ["db", "10.1.0.50"], ["other", "10.1.0.3"]]);
  assert.equal(nets.attachedCount(n1.id), 3);

  // Disconnect frees the addresses; the next connect gets the lowest free ethN and the last position.
  const gone = nets.disconnect(web.id, n1.id);
  assert.equal(gone.interface, "eth0");
  assert.throws(() => nets.disconnect(web.id, n1.id), berthError("NOT_FOUND", /is not connected to network "n1"/));
  const n3 = nets.create({ name: "n3", subnets: [{ subnet: "10.3.0.0/24" }] });
  const again = nets.connect(web.id, n3.id, { aliases: ["x"] });
  assert.deepEqual([again.interface, again.position], ["eth0", 2]);
  assert.deepEqual(nets.attachments(web.id).map((x) => x.networkName), ["n2", "n3"]);
  nets.setAliases(web.id, n3.id, ["y", "z"]);
  assert.deepEqual(nets.attachment(web.id, n3.id)!.aliases, ["y", "z"]);
  // The released 10.1.0.2 is not reused at once.
  assert.deepEqual(nets.connect(web.id, n1.id).addresses.map((x) => x.address), ["10.1.0.4", "fd00:1::4"]);
});

test("store: allocate/release, exhaustion names the network, remove and force", () => {
  const { nets, ctrs } = stores();
  const tiny = nets.create({ name: "tiny", subnets: [{ subnet: "10.9.0.0/30" }] });
  const [c1, c2] = [ctrs.insert({ ...base, name: "c1" }), ctrs.insert({ ...base, name: "c2" })];
  assert.equal(nets.allocate(tiny.id, c1.id, 4), "10.9.0.2");
  assert.equal(nets.allocate(tiny.id, c1.id, 4), "10.9.0.2", "idempotent");
  assert.throws(() => nets.allocate(tiny.id, c1.id, 4, "10.9.0.1"), berthError("CONFLICT", /already has address 10.9.0.2 on network "tiny"/));
  assert.throws(() => nets.allocate(tiny.id, c2.id, 4), berthError("FAILED_PRECONDITION", /^no free IPv4 address left on network "tiny" \(10.9.0.0\/30\)/));
  assert.throws(() => nets.allocate(tiny.id, c2.id, 6), berthError("FAILED_PRECONDITION", /network "tiny" has no IPv6 subnet/));
  assert.equal(nets.release(c1.id, tiny.id), 1);
  assert.equal(nets.release(c1.id), 0);
  assert.equal(nets.allocate(tiny.id, c2.id, 4), "10.9.0.2");

  // Removing a container frees its addresses and attachments (foreign keys cascade).
  const lab = nets.create({ name: "lab", subnets: [{ subnet: "10.8.0.0/24" }] });
  nets.connect(c1.id, lab.id);
  nets.connect(c2.id, lab.id);
  ctrs.delete(c1.id);
  assert.deepEqual(nets.members(lab.id).map((m) => m.containerName), ["c2"]);
  assert.throws(() => nets.remove(lab.id), berthError("CONFLICT", /^network "lab" has attached containers \(c2\): disconnect or remove them first$/));
  const detached = nets.remove(lab.id, { force: true });
  assert.deepEqual(detached.map((d) => d.containerName), ["c2"]);
  assert.equal(nets.get(lab.id), undefined);
  assert.deepEqual(nets.attachments(c2.id), []);
  assert.throws(() => nets.remove(lab.id), berthError("NOT_FOUND"));
  nets.release(c2.id);
  nets.remove(tiny.id);
  assert.deepEqual(nets.list(), []);
  // The subnet is free again.
  assert.equal(nets.create({ name: "lab", subnets: [{ subnet: "10.8.0.0/24" }] }).name, "lab");
});

/**
 * Several threads, each with its own connection to the same database, connect containers at the same
 * moment: no address is handed out twice, and a small network is filled exactly once.
 */
test("store: concurrent allocation from several connections never duplicates an address", async () => {
  const dir = root();
  const { db, nets, ctrs } = stores(dir);
  const big = nets.create({ name: "big", ipv6: true, subnets: [{ subnet: "10.20.0.0/16" }, { subnet: "fd00:20::/64" }] });
  const small = nets.create({ name: "small", subnets: [{ subnet: "10.21.0.0/29" }] }); // 5 addresses after the gateway
  const WORKERS = 6;
  const PER = 15;
  const ids = Array.from({ length: WORKERS * PER }, () => ctrs.insert(base).id);
  db.close();

  const flag = new SharedArrayBuffer(8);
  const gate = new Int32Array(flag);
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    (async () => {
      const { openDb } = await import(workerData.dbUrl);
      const { NetworkStore } = await import(workerData.storeUrl);
      const db = openDb(workerData.root);
      const s = new NetworkStore(db);
      const gate = new Int32Array(workerData.flag);
      Atomics.add(gate, 1, 1);
      Atomics.wait(gate, 0, 0);
      const got = [];
      let full = 0;
      for (const c of workerData.containers) {
        got.push(...s.connect(c, workerData.big).addresses.map((a) => a.address));
        try { got.push(s.allocate(workerData.small, c, 4)); } catch (e) { if (e.code === "FAILED_PRECONDITION") full++; else throw e; }
      }
      db.close();
      parentPort.postMessage({ got, full });
    })();
  `;
  // Open the gate once every worker waits at it, so the allocations really overlap.
  const poll = setInterval(() => {
    if (Atomics.load(gate, 1) !== WORKERS) return;
    clearInterval(poll);
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
  }, 5);
  const results = await Promise.all(
    Array.from({ length: WORKERS }, (_, w) => {
      const worker = new Worker(code, {
        eval: true,
        workerData: {
          root: dir,
          flag,
          big: big.id,
          small: small.id,
          containers: ids.slice(w * PER, (w + 1) * PER),
          dbUrl: new URL("../../src/store/db.js", import.meta.url).href,
          storeUrl: new URL("../../src/network/store.js", import.meta.url).href,
        },
      });
      return new Promise<{ got: string[]; full: number }>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      });
    }),
  ).finally(() => clearInterval(poll));
  const all = results.flatMap((r) => r.got);
  const expected = WORKERS * PER * 2 + 5;
  assert.equal(all.length, expected);
  assert.equal(new Set(all).size, expected, "no duplicates");
  assert.equal(results.reduce((n, r) => n + r.full, 0), WORKERS * PER - 5);
  const small4 = all.filter((a) => a.startsWith("10.21.")).sort();
  assert.deepEqual(small4, ["10.21.0.2", "10.21.0.3", "10.21.0.4", "10.21.0.5", "10.21.0.6"]);
  // The database agrees, and the big network's addresses are the lowest ones, in sequence.
  const { nets: check, db: db2 } = stores(dir);
  const members = check.members(big.id);
  assert.equal(members.length, WORKERS * PER);
  const v4 = members.map((m) => m.addresses[0]!.address).sort((x, y) => Number(x.split(".")[3]) - Number(y.split(".")[3]));
  assert.deepEqual(v4, Array.from({ length: WORKERS * PER }, (_, i) => `10.20.0.${i + 2}`));
  assert.equal(new Set(members.map((m) => m.mac)).size, WORKERS * PER);
  db2.close();
});
