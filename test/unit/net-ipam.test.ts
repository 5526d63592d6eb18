import assert from "node:assert/strict";
import { test } from "node:test";
import { allocate, checkStatic, dynamicBounds, formatIp, nextFree, parseIp, planSubnet, type SubnetPlan } from "../../src/core/net/index.js";
import { berthError } from "../helpers/errors.js";

const ip = (t: string) => parseIp(t).value;
const fmt = (p: SubnetPlan, a: bigint | undefined) => (a === undefined ? undefined : formatIp(p.subnet.family, a));

/** Allocate n addresses in a row as the store does: each becomes used and moves the cursor. */
function run(p: SubnetPlan, n: number, used = new Set<bigint>(), after?: bigint): string[] {
  const out: string[] = [];
  let cursor = after;
  for (let i = 0; i < n; i++) {
    const a = allocate(p, used, { after: cursor, label: 'network "t"' });
    used.add(a);
    cursor = a;
    out.push(formatIp(p.subnet.family, a));
  }
  return out;
}

test("ipam: subnet plans default the gateway to the first host and check the user's values", () => {
  const p = planSubnet({ subnet: "10.1.0.0/16" });
  assert.equal(fmt(p, p.gateway), "10.1.0.1");
  assert.equal(p.ipRange, undefined);
  assert.equal(fmt(p, planSubnet({ subnet: "10.1.0.0/16", gateway: "10.1.255.254" }).gateway), "10.1.255.254");
  assert.equal(formatIp(6, planSubnet({ subnet: "fd00:1::/64" }).gateway), "fd00:1::1");
  assert.throws(() => planSubnet({ subnet: "10.1.0.0/16", gateway: "10.2.0.1" }, 'network "lab"'), berthError("INVALID_ARGUMENT", /invalid gateway "10.2.0.1": not inside the subnet of network "lab" 10.1.0.0\/16/));
  assert.throws(() => planSubnet({ subnet: "10.1.0.0/16", gateway: "10.1.0.0" }), berthError("INVALID_ARGUMENT", /network or broadcast/));
  assert.throws(() => planSubnet({ subnet: "10.1.0.0/16", gateway: "10.1.255.255" }), berthError("INVALID_ARGUMENT", /network or broadcast/));
  assert.throws(() => planSubnet({ subnet: "10.1.0.0/16", gateway: "fd00::1" }), berthError("INVALID_ARGUMENT", /expected an IPv4 address/));
  assert.throws(() => planSubnet({ subnet: "10.1.0.0/16", ipRange: "10.2.0.0/24" }), berthError("INVALID_ARGUMENT", /invalid ip-range "10.2.0.0\/24": not inside/));
  assert.throws(() => planSubnet({ subnet: "10.1.0.0/16", ipRange: "10.1.0.1/24" }), berthError("INVALID_ARGUMENT", /invalid ip-range "10.1.0.1\/24": host bits are set, it should be 10.1.0.0\/24/));
  assert.throws(() => planSubnet({ subnet: "10.1.0.0/33" }), berthError("INVALID_ARGUMENT", /invalid subnet/));
});

test("ipam: sequential from the lowest, skipping the gateway, continuing after the cursor and wrapping", () => {
  const p = planSubnet({ subnet: "10.0.0.0/24" });
  assert.deepEqual(run(p, 3), ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
  // A released address is not handed out again at once: allocation continues after the cursor.
  const used = new Set([ip("10.0.0.2"), ip("10.0.0.4")]);
  assert.equal(fmt(p, nextFree(p, used, ip("10.0.0.4"))), "10.0.0.5");
  // At the top it wraps to the lowest free address; the broadcast address is never handed out.
  assert.equal(fmt(p, nextFree(p, used, ip("10.0.0.254"))), "10.0.0.3");
  assert.equal(fmt(p, nextFree(p, new Set([ip("10.0.0.254")]), ip("10.0.0.253"))), "10.0.0.2");
  // A gateway in the middle is skipped.
  const mid = planSubnet({ subnet: "10.0.0.0/29", gateway: "10.0.0.3" });
  assert.deepEqual(run(mid, 5), ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
  assert.throws(() => run(mid, 1, new Set([1n, 2n, 4n, 5n, 6n].map((x) => ip("10.0.0.0") + x))), berthError("FAILED_PRECONDITION"));
});

test("ipam: a /30 has one address after the gateway; exhaustion names the network", () => {
  const p = planSubnet({ subnet: "10.9.0.0/30" });
  const used = new Set<bigint>();
  assert.deepEqual(run(p, 1, used), ["10.9.0.2"]);
  assert.throws(() => run(p, 1, used), berthError("FAILED_PRECONDITION", /^no free IPv4 address left in network "t" \(10.9.0.0\/30\)/));
  // /31 (RFC 3021): both addresses usable, the gateway takes the first.
  const p31 = planSubnet({ subnet: "10.9.0.0/31" });
  assert.deepEqual(run(p31, 1), ["10.9.0.1"]);
  // /32: only the gateway.
  assert.throws(() => run(planSubnet({ subnet: "10.9.0.7/32" }), 1), berthError("FAILED_PRECONDITION", /10.9.0.7\/32/));
});

test("ipam: IPv6 skips the subnet-router anycast address and scales to a /64 without enumeration", () => {
  const p = planSubnet({ subnet: "fd00:1::/64" });
  assert.deepEqual(run(p, 2), ["fd00:1::2", "fd00:1::3"]);
  const { low, high } = dynamicBounds(p);
  assert.equal(fmt(p, low), "fd00:1::1");
  assert.equal(fmt(p, high), "fd00:1::ffff:ffff:ffff:ffff"); // no broadcast in IPv6
  // The cursor at the very top wraps around in constant time.
  assert.equal(fmt(p, nextFree(p, new Set(), high)), "fd00:1::2");
  assert.equal(fmt(p, nextFree(p, new Set(), high - 1n)), "fd00:1::ffff:ffff:ffff:ffff");
  // /127 (RFC 6164): both usable.
  assert.deepEqual(run(planSubnet({ subnet: "fd00:1::/127" }), 1), ["fd00:1::1"]);
});

test("ipam: a /16 with thousands of used addresses costs only the used set", () => {
  const p = planSubnet({ subnet: "172.20.0.0/16" });
  const used = new Set<bigint>();
  for (let i = 2n; i < 20002n; i++) used.add(ip("172.20.0.0") + i);
  const t0 = performance.now();
  assert.equal(fmt(p, nextFree(p, used)), formatIp(4, ip("172.20.0.0") + 20002n));
  assert.ok(performance.now() - t0 < 500);
  // A full /16 (65533 container addresses) fails cleanly.
  const full = new Set<bigint>();
  for (let i = 2n; i < 65535n; i++) full.add(ip("172.20.0.0") + i);
  assert.equal(nextFree(p, full, ip("172.20.100.0")), undefined);
});

test("ipam: ip-range limits dynamic allocation; static addresses anywhere in the subnet", () => {
  const p = planSubnet({ subnet: "10.5.0.0/16", ipRange: "10.5.7.0/30" });
  assert.equal(fmt(p, p.gateway), "10.5.0.1");
  const used = new Set<bigint>();
  assert.deepEqual(run(p, 4, used), ["10.5.7.0", "10.5.7.1", "10.5.7.2", "10.5.7.3"]);
  assert.throws(() => run(p, 1, used), berthError("FAILED_PRECONDITION", /ip-range 10.5.7.0\/30 of network "t" \(10.5.0.0\/16\)/));
  assert.equal(fmt(p, allocate(p, used, { requested: ip("10.5.0.9") })), "10.5.0.9");
  // The range's edges are clipped to usable hosts when the range starts at the subnet.
  const q = planSubnet({ subnet: "10.6.0.0/24", ipRange: "10.6.0.0/30" });
  assert.deepEqual(run(q, 2), ["10.6.0.2", "10.6.0.3"]);
});

test("ipam: static addresses must be inside, not reserved, not the gateway and free", () => {
  const p = planSubnet({ subnet: "10.0.0.0/24" });
  const used = new Map([[ip("10.0.0.7"), 'container "web"']]);
  const label = 'network "lab"';
  assert.equal(checkStatic(p, ip("10.0.0.8"), used, label), ip("10.0.0.8"));
  assert.throws(() => checkStatic(p, ip("10.0.0.7"), used, label), berthError("CONFLICT", /^address 10.0.0.7 is already in use on network "lab" \(10.0.0.0\/24\) by container "web"$/));
  assert.throws(() => checkStatic(p, ip("10.0.0.7"), new Set([ip("10.0.0.7")]), label), berthError("CONFLICT", /already in use on network "lab" \(10.0.0.0\/24\)$/));
  assert.throws(() => checkStatic(p, ip("10.0.0.1"), used, label), berthError("CONFLICT", /address 10.0.0.1 is the gateway of network "lab"/));
  assert.throws(() => checkStatic(p, ip("10.0.1.1"), used, label), berthError("INVALID_ARGUMENT", /invalid address "10.0.1.1": not inside the subnet of network "lab"/));
  assert.throws(() => checkStatic(p, ip("10.0.0.0"), used, label), berthError("INVALID_ARGUMENT", /network or broadcast/));
  assert.throws(() => checkStatic(p, ip("10.0.0.255"), used, label), berthError("INVALID_ARGUMENT", /network or broadcast/));
  const p6 = planSubnet({ subnet: "fd00::/64" });
  assert.throws(() => checkStatic(p6, ip("fd00::"), new Set(), label), berthError("INVALID_ARGUMENT", /^invalid address "fd00::": it is the network or broadcast address of network "lab" \(fd00::\/64\)$/));
  assert.equal(checkStatic(p6, ip("fd00::ffff:ffff:ffff:ffff"), new Set(), label), ip("fd00::ffff:ffff:ffff:ffff"));
});
