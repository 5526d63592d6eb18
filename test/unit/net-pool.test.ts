import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addressesFromJson,
  chooseSubnet,
  DEFAULT_POOLS,
  formatCidr,
  networkRanges,
  normalizeMac,
  overlapsAny,
  parseCidr,
  parsePools,
  refuseOverlap,
  routesFromJson,
  stableMac,
  type TakenRange,
} from "../../src/core/net/index.js";
import { berthError } from "../helpers/errors.js";

// As printed by `ip -j route show` / `ip -j -6 route show` / `ip -j addr show` (trimmed), with a docker0.
const ROUTES_V4 = JSON.stringify([
  { dst: "default", gateway: "192.0.2.1", dev: "eth0", flags: [] },
  { dst: "172.17.0.0/16", dev: "docker0", protocol: "kernel", scope: "link", prefsrc: "172.17.0.1", flags: ["linkdown"] },
  { dst: "192.0.2.0/24", dev: "eth0", protocol: "kernel", scope: "link", prefsrc: "192.0.2.2", flags: [] },
  { dst: "198.51.100.9", gateway: "192.0.2.1", dev: "eth0", flags: [] },
  { type: "blackhole", dst: "10.99.0.0/16", flags: [] },
  { dst: "0.0.0.0/0", dev: "tun0", flags: [] },
]);
const ROUTES_V6 = JSON.stringify([
  { dst: "fd00::/64", dev: "eth0", protocol: "kernel", metric: 256, flags: [], pref: "medium" },
  { dst: "fe80::/64", dev: "eth0", protocol: "kernel", metric: 256, flags: [], pref: "medium" },
  { dst: "default", gateway: "fd00::1", dev: "eth0", metric: 1024, flags: [], pref: "medium" },
]);
const ADDRS = JSON.stringify([
  { ifindex: 1, ifname: "lo", addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8 }, { family: "inet6", local: "::1", prefixlen: 128 }] },
  { ifindex: 2, ifname: "ifb0", addr_info: [] },
  { ifindex: 4, ifname: "eth0", addr_info: [{ family: "inet", local: "192.0.2.2", prefixlen: 24 }, { family: "inet6", local: "fd00::2", prefixlen: 64 }] },
  { ifindex: 5, ifname: "wg0", addr_info: [{ family: "inet", local: "10.200.0.1", address: "10.201.0.1", prefixlen: 32 }] },
]);

test("pool: routes and addresses from ip -j JSON, default routes left out", () => {
  const routes = routesFromJson(ROUTES_V4);
  assert.deepEqual(
    routes.map((r) => [formatCidr(r.cidr), r.owner]),
    [
      ["172.17.0.0/16", "host route 172.17.0.0/16 dev docker0"],
      ["192.0.2.0/24", "host route 192.0.2.0/24 dev eth0"],
      ["198.51.100.9/32", "host route 198.51.100.9/32 dev eth0"],
      ["10.99.0.0/16", "host route 10.99.0.0/16 (blackhole)"],
    ],
  );
  assert.deepEqual(routesFromJson(ROUTES_V6).map((r) => formatCidr(r.cidr)), ["fd00::/64", "fe80::/64"]);
  assert.deepEqual(routesFromJson(""), []);
  assert.deepEqual(routesFromJson('[{"dst":"weird"},{"dev":"x"},7]'), []);
  assert.throws(() => routesFromJson("{not json"), berthError("INVALID_ARGUMENT", /cannot parse the output of ip -j route/));
  assert.throws(() => routesFromJson("{}"), berthError("INVALID_ARGUMENT", /expected a JSON array/));
  assert.deepEqual(
    addressesFromJson(ADDRS).map((r) => [formatCidr(r.cidr), r.owner]),
    [
      ["127.0.0.0/8", "host address 127.0.0.1/8 on lo"],
      ["::1/128", "host address ::1/128 on lo"],
      ["192.0.2.0/24", "host address 192.0.2.2/24 on eth0"],
      ["fd00::/64", "host address fd00::2/64 on eth0"],
      ["10.200.0.1/32", "host address 10.200.0.1/32 on wg0"],
      ["10.201.0.1/32", "host address 10.201.0.1/32 on wg0"],
    ],
  );
});

test("pool: Docker-like defaults, skipping host routes and other networks", () => {
  assert.equal(DEFAULT_POOLS.length, 17);
  assert.equal(formatCidr(chooseSubnet(4, [])), "172.17.0.0/16");
  const host = [...routesFromJson(ROUTES_V4), ...routesFromJson(ROUTES_V6), ...addressesFromJson(ADDRS)];
  assert.equal(formatCidr(chooseSubnet(4, host)), "172.18.0.0/16", "docker0 holds 172.17");
  const nets = networkRanges("a", ["172.18.0.0/16", "172.19.5.0/24"]);
  assert.equal(formatCidr(chooseSubnet(4, [...host, ...nets])), "172.20.0.0/16");
  // A route covering all of 172.16/12 sends the choice to 192.168/16, carved in /20s.
  const wide: TakenRange[] = [{ cidr: parseCidr("172.16.0.0/12"), owner: "host route 172.16.0.0/12 dev vpn0" }];
  assert.equal(formatCidr(chooseSubnet(4, wide)), "192.168.0.0/20");
  wide.push({ cidr: parseCidr("192.168.1.0/24"), owner: "host route" }, { cidr: parseCidr("192.168.16.0/21"), owner: "host route" });
  assert.equal(formatCidr(chooseSubnet(4, wide)), "192.168.32.0/20");
  wide.push({ cidr: parseCidr("192.168.0.0/16"), owner: "x" });
  assert.throws(() => chooseSubnet(4, wide), berthError("FAILED_PRECONDITION", /^no free IPv4 subnet left in the address pools \(172.17.0.0\/16 as \/16, .*192.168.0.0\/16 as \/20\): give --subnet/));
  // IPv6: /64s from the berth ULA /48; a taken /60 is jumped over in one step.
  assert.equal(formatCidr(chooseSubnet(6, host)), "fd62:6572:7468::/64");
  const v6taken = networkRanges("b", ["fd62:6572:7468::/60", "fd62:6572:7468:10::/64"]);
  assert.equal(formatCidr(chooseSubnet(6, v6taken)), "fd62:6572:7468:11::/64");
  assert.throws(() => chooseSubnet(6, networkRanges("c", ["fd62:6572:7468::/48"])), berthError("FAILED_PRECONDITION", /IPv6 subnet/));
  // Custom pools.
  const pools = [{ base: "10.10.0.0/16", size: 24 }];
  assert.equal(formatCidr(chooseSubnet(4, networkRanges("d", ["10.10.0.0/23"]), pools)), "10.10.2.0/24");
  assert.throws(() => chooseSubnet(6, [], pools), berthError("FAILED_PRECONDITION", /\(none configured\)/));
  assert.throws(() => parsePools([{ base: "10.10.0.0/16", size: 8 }]), berthError("INVALID_ARGUMENT", /size \/8 must be between \/16 and \/32/));
  assert.throws(() => parsePools([{ base: "10.10.0.1/16", size: 24 }]), berthError("INVALID_ARGUMENT", /invalid address pool "10.10.0.1\/16": host bits/));
});

test("pool: user subnets overlapping a route or a network are refused naming it", () => {
  const taken = [...routesFromJson(ROUTES_V4), ...networkRanges("lab", ["10.1.0.0/16"])];
  assert.equal(overlapsAny(parseCidr("10.2.0.0/16"), taken), undefined);
  assert.equal(overlapsAny(parseCidr("10.1.4.0/24"), taken)?.owner, 'network "lab"');
  assert.doesNotThrow(() => refuseOverlap(parseCidr("10.2.0.0/16"), taken));
  assert.throws(() => refuseOverlap(parseCidr("192.0.0.0/8"), taken), berthError("CONFLICT", /^subnet 192.0.0.0\/8 overlaps host route 192.0.2.0\/24 dev eth0: choose another subnet$/));
  assert.throws(() => refuseOverlap(parseCidr("10.1.0.0/20"), taken), berthError("CONFLICT", /overlaps network "lab" \(10.1.0.0\/16\)/));
  // A default route never counts as an overlap (it was left out by the parser).
  assert.doesNotThrow(() => refuseOverlap(parseCidr("203.0.113.0/24"), taken));
});

test("mac: stable per container and network, locally administered unicast", () => {
  const c = "a".repeat(64);
  const n1 = "b".repeat(64);
  const n2 = "c".repeat(64);
  const m = stableMac(c, n1);
  assert.match(m, /^02(:[0-9a-f]{2}){5}$/);
  assert.equal(stableMac(c, n1), m);
  assert.notEqual(stableMac(c, n2), m);
  assert.notEqual(stableMac("d".repeat(64), n1), m);
  // Spread: no collisions among a few thousand random-looking IDs.
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(stableMac(i.toString(16).padStart(64, "0"), n1));
  assert.equal(seen.size, 5000);
  assert.equal(normalizeMac("02-42-AC-11-00-02"), "02:42:ac:11:00:02");
  assert.throws(() => normalizeMac("01:00:5e:00:00:01"), berthError("INVALID_ARGUMENT", /multicast/));
  assert.throws(() => normalizeMac("02:42:ac:11:00"), berthError("INVALID_ARGUMENT", /invalid MAC address "02:42:ac:11:00"/));
  assert.throws(() => normalizeMac("02:42-ac:11:00:02"), berthError("INVALID_ARGUMENT"));
});
