import assert from "node:assert/strict";
import { test } from "node:test";
import {
  addresses,
  broadcast,
  canonicalIp,
  contains,
  containsCidr,
  firstHost,
  formatCidr,
  formatIp,
  lastHost,
  nth,
  overlaps,
  parseCidr,
  parseInterfaceCidr,
  parseIp,
  parseIpOf,
  size,
  subnets,
} from "../../src/core/net/index.js";
import { berthError } from "../helpers/errors.js";

test("cidr: IPv4 addresses parse strictly and format back", () => {
  assert.deepEqual(parseIp("10.0.0.1"), { family: 4, value: 0x0a000001n });
  assert.deepEqual(parseIp("255.255.255.255"), { family: 4, value: 0xffffffffn });
  assert.equal(formatIp(4, 0n), "0.0.0.0");
  assert.equal(formatIp(4, 0xc0000201n), "192.0.2.1");
  for (const bad of ["", "10.0.0", "10.0.0.1.2", "256.0.0.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", "1..2.3", "1.2.3.4 5"]) {
    assert.throws(() => parseIp(bad), berthError("INVALID_ARGUMENT", /invalid IP address ".*": not an IPv4 or IPv6 address/), bad);
  }
  assert.throws(() => parseIpOf(6, "10.0.0.1", "gateway"), berthError("INVALID_ARGUMENT", /invalid gateway "10.0.0.1": expected an IPv6 address/));
});

test("cidr: IPv6 text is canonical per RFC 5952", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // equal runs: the first is shortened
    ["0:0:1:0:0:0:1:0", "0:0:1::1:0"], // the longest run wins
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not shortened
    ["2001:db8::0:1", "2001:db8::1"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["fe80::00ff:fe00:0001", "fe80::ff:fe00:1"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["::ffff:c000:0201", "::ffff:192.0.2.1"], // IPv4-mapped keeps its dotted quad
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
  assert.equal(parseIp("::ffff:192.0.2.1").family, 6);
  assert.equal(parseIp("::ffff:192.0.2.1").value, 0xffffc0000201n);
  for (const bad of [":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "12345::", "::g", ":1::", "1.2.3.4::", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4"]) {
    assert.throws(() => parseIp(bad), berthError("INVALID_ARGUMENT"), bad);
  }
  assert.throws(() => parseIp("fe80::1%eth0"), berthError("INVALID_ARGUMENT", /zone/));
});

test("cidr: subnets parse, host bits are refused naming the right subnet", () => {
  assert.deepEqual(parseCidr("10.1.0.0/16"), { family: 4, network: 0x0a010000n, prefix: 16 });
  assert.equal(formatCidr(parseCidr("0.0.0.0/0")), "0.0.0.0/0");
  assert.equal(formatCidr(parseCidr("10.0.0.1/32")), "10.0.0.1/32");
  assert.equal(formatCidr(parseCidr("::/0")), "::/0");
  assert.equal(formatCidr(parseCidr("FD00:0:0:0::/64")), "fd00::/64");
  assert.equal(formatCidr(parseCidr("fd00::1/128")), "fd00::1/128");
  assert.throws(() => parseCidr("10.1.0.5/16"), berthError("INVALID_ARGUMENT", /^invalid subnet "10.1.0.5\/16": host bits are set, it should be 10.1.0.0\/16$/));
  assert.throws(() => parseCidr("fd00::1/64"), berthError("INVALID_ARGUMENT", /it should be fd00::\/64/));
  assert.throws(() => parseCidr("10.0.0.0/33"), berthError("INVALID_ARGUMENT", /prefix length must be a number from 0 to 32/));
  assert.throws(() => parseCidr("fd00::/129"), berthError("INVALID_ARGUMENT", /from 0 to 128/));
  assert.throws(() => parseCidr("10.0.0.0/016"), berthError("INVALID_ARGUMENT"));
  assert.throws(() => parseCidr("10.0.0.0/"), berthError("INVALID_ARGUMENT"));
  assert.throws(() => parseCidr("10.0.0.0"), berthError("INVALID_ARGUMENT", /expected ADDRESS\/PREFIX/));
  assert.throws(() => parseCidr("x/8", "ip-range"), berthError("INVALID_ARGUMENT", /^invalid ip-range "x\/8": "x" is not/));
  const i = parseInterfaceCidr("192.0.2.7/24");
  assert.equal(formatIp(4, i.address.value), "192.0.2.7");
  assert.equal(formatCidr(i.cidr), "192.0.2.0/24");
});

test("cidr: sizes, bounds, nth and iteration", () => {
  const v4 = parseCidr("10.0.0.0/24");
  assert.equal(size(v4), 256n);
  assert.equal(formatIp(4, broadcast(v4)!), "10.0.0.255");
  assert.equal(formatIp(4, firstHost(v4)), "10.0.0.1");
  assert.equal(formatIp(4, lastHost(v4)), "10.0.0.254");
  assert.equal(formatIp(4, nth(v4, 5)), "10.0.0.5");
  assert.equal(formatIp(4, nth(v4, -1)), "10.0.0.255");
  assert.throws(() => nth(v4, 256), berthError("INVALID_ARGUMENT", /outside 10.0.0.0\/24/));
  const p2p = parseCidr("10.0.0.0/31");
  assert.equal(broadcast(p2p), undefined);
  assert.equal(formatIp(4, firstHost(p2p)), "10.0.0.0");
  assert.equal(formatIp(4, lastHost(p2p)), "10.0.0.1");
  const one = parseCidr("10.0.0.9/32");
  assert.equal(size(one), 1n);
  assert.equal(firstHost(one), lastHost(one));
  const v6 = parseCidr("fd00::/64");
  assert.equal(size(v6), 1n << 64n);
  assert.equal(broadcast(v6), undefined);
  assert.equal(formatIp(6, firstHost(v6)), "fd00::1");
  assert.equal(formatIp(6, lastHost(v6)), "fd00::ffff:ffff:ffff:ffff");
  assert.equal(firstHost(parseCidr("fd00::/127")), parseIp("fd00::").value);
  assert.equal(size(parseCidr("::/0")), 1n << 128n);
  assert.deepEqual([...addresses(parseCidr("10.0.0.0/30"))].map((a) => formatIp(4, a)), ["10.0.0.1", "10.0.0.2"]);
  assert.deepEqual([...subnets(parseCidr("10.0.0.0/24"), 26)].map(formatCidr), ["10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/26"]);
  assert.throws(() => [...subnets(v4, 23)], berthError("INVALID_ARGUMENT"));
  // Lazy: the first /64 of a /48 without walking 65536 of them.
  assert.equal(formatCidr(subnets(parseCidr("fd00:1::/48"), 64).next().value as never), "fd00:1::/64");
});

test("cidr: containment and the overlap matrix", () => {
  const names = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.2.0.0/16", "10.1.2.3/32", "0.0.0.0/0", "192.168.0.0/20", "192.168.16.0/20", "fd00::/8", "fd00:1::/64", "::/0"];
  const c = names.map((n) => parseCidr(n));
  const expected = new Set([
    "10.0.0.0/8|10.1.0.0/16", "10.0.0.0/8|10.1.2.0/24", "10.0.0.0/8|10.2.0.0/16", "10.0.0.0/8|10.1.2.3/32", "10.0.0.0/8|0.0.0.0/0",
    "10.1.0.0/16|10.1.2.0/24", "10.1.0.0/16|10.1.2.3/32", "10.1.0.0/16|0.0.0.0/0",
    "10.1.2.0/24|10.1.2.3/32", "10.1.2.0/24|0.0.0.0/0",
    "10.2.0.0/16|0.0.0.0/0", "10.1.2.3/32|0.0.0.0/0",
    "0.0.0.0/0|192.168.0.0/20", "0.0.0.0/0|192.168.16.0/20",
    "fd00::/8|fd00:1::/64", "fd00::/8|::/0", "fd00:1::/64|::/0",
  ]);
  for (let i = 0; i < c.length; i++) {
    assert.ok(overlaps(c[i]!, c[i]!), names[i]);
    for (let j = i + 1; j < c.length; j++) {
      const want = expected.has(`${names[i]}|${names[j]}`);
      assert.equal(overlaps(c[i]!, c[j]!), want, `${names[i]} vs ${names[j]}`);
      assert.equal(overlaps(c[j]!, c[i]!), want, `${names[j]} vs ${names[i]}`);
    }
  }
  assert.ok(containsCidr(c[0]!, c[2]!));
  assert.ok(!containsCidr(c[2]!, c[0]!));
  assert.ok(contains(c[1]!, parseIp("10.1.255.255")));
  assert.ok(!contains(c[1]!, parseIp("10.2.0.0")));
  assert.ok(!contains(c[10]!, parseIp("10.0.0.1")), "families never mix");
});
