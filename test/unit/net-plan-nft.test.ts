/** The nftables planner: exact script text for several shapes, and its refusals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { localnetSysctls, renderNftDelete, renderNftScript } from "../../src/network/nft.js";
import { berthError } from "../helpers/errors.js";

const HEAD = (t: string) => `table inet ${t}\ndelete table inet ${t}\ntable inet ${t} {\n`;

describe("net plan: nftables", () => {
  it("an empty configuration still replaces the table with empty chains", () => {
    assert.equal(
      renderNftScript({ networks: [], ports: [] }),
      HEAD("berth") +
        [
          "\tchain forward {",
          "\t\ttype filter hook forward priority filter; policy accept;",
          "\t\tct state established,related accept",
          "\t}",
          "\tchain prerouting {",
          "\t\ttype nat hook prerouting priority dstnat; policy accept;",
          "\t\tfib daddr type local jump published",
          "\t}",
          "\tchain output {",
          "\t\ttype nat hook output priority -100; policy accept;",
          "\t\tip6 daddr ::1 return",
          "\t\tfib daddr type local jump published",
          "\t}",
          "\tchain published {",
          "\t}",
          "\tchain postrouting {",
          "\t\ttype nat hook postrouting priority srcnat; policy accept;",
          "\t}",
          "}",
          "",
        ].join("\n"),
    );
  });

  it("two bridges, an internal one, and published ports", () => {
    const s = renderNftScript({
      table: "berth_test_1",
      networks: [
        { bridge: "berth0", subnets: ["10.88.0.0/16", "fd00:0:0:0::/64"] },
        { bridge: "br1", subnets: ["10.89.1.1/24"], masquerade: false },
        { bridge: "brint", subnets: ["10.90.0.0/24"], internal: true },
      ],
      ports: [
        { hostPort: 8080, proto: "tcp", containerIp: "10.88.0.2", containerPort: 80 },
        { hostIp: "127.0.0.1", hostPort: 5353, proto: "udp", containerIp: "10.88.0.3", containerPort: 53 },
        { hostIp: "0.0.0.0", hostPort: 8443, proto: "tcp", containerIp: "10.88.0.2", containerPort: 443 },
        { hostPort: 8080, proto: "tcp", containerIp: "fd00::2", containerPort: 80 },
      ],
    });
    assert.ok(s.startsWith(HEAD("berth_test_1")), s);
    const chain = (name: string) => {
      const lines = s.split("\n");
      const start = lines.indexOf(`\tchain ${name} {`);
      assert.ok(start >= 0, `chain ${name} in\n${s}`);
      const end = lines.indexOf("\t}", start);
      return lines.slice(start + 1, end).map((l) => l.trim());
    };
    assert.deepEqual(chain("forward"), [
      "type filter hook forward priority filter; policy accept;",
      "ct state established,related accept",
      'iifname "brint" oifname != "brint" drop',
      'oifname "brint" iifname != "brint" drop',
      'iifname "berth0" oifname { "br1", "brint" } drop',
      'iifname "br1" oifname { "berth0", "brint" } drop',
      'iifname "brint" oifname { "berth0", "br1" } drop',
    ]);
    assert.deepEqual(chain("published"), [
      "meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.0.2:80",
      "ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.88.0.3:53",
      "meta nfproto ipv4 tcp dport 8443 dnat ip to 10.88.0.2:443",
      "meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00::2]:80",
    ]);
    assert.deepEqual(chain("postrouting"), [
      "type nat hook postrouting priority srcnat; policy accept;",
      'oifname "berth0" ip saddr 127.0.0.0/8 masquerade',
      'oifname "berth0" ip saddr 10.88.0.0/16 ct status dnat masquerade',
      'oifname "berth0" ip6 saddr fd00::/64 ct status dnat masquerade',
      'ip saddr 10.88.0.0/16 oifname != "berth0" masquerade',
      'ip6 saddr fd00::/64 oifname != "berth0" masquerade',
      'oifname "br1" ip saddr 127.0.0.0/8 masquerade',
      'oifname "br1" ip saddr 10.89.1.0/24 ct status dnat masquerade',
    ]);
  });

  it("one bridge: no isolation rule; subnets are normalised", () => {
    const s = renderNftScript({ networks: [{ bridge: "b", subnets: ["172.20.3.7/20", "fd12:3456:789a:1::99/56"] }], ports: [] });
    assert.doesNotMatch(s, /oifname \{/);
    assert.match(s, /ip saddr 172\.20\.0\.0\/20 oifname != "b" masquerade/);
    assert.match(s, /ip6 saddr fd12:3456:789a::\/56 oifname != "b" masquerade/);
  });

  it("the delete script is idempotent by construction", () => {
    assert.equal(renderNftDelete("berth_x"), "table inet berth_x\ndelete table inet berth_x\n");
    assert.equal(renderNftDelete(), "table inet berth\ndelete table inet berth\n");
  });

  it("route_localnet only on non-internal bridges, as /proc/sys paths", () => {
    assert.deepEqual(
      localnetSysctls([
        { bridge: "berth0", subnets: [] },
        { bridge: "br.int", subnets: [], internal: true },
        { bridge: "br.5", subnets: [] },
      ]),
      [
        { key: "net/ipv4/conf/berth0/route_localnet", value: "1" },
        { key: "net/ipv4/conf/br.5/route_localnet", value: "1" },
      ],
    );
  });

  it("refuses what nft would choke on or what cannot work", () => {
    const ok = { containerIp: "10.0.0.2", containerPort: 80, proto: "tcp" as const };
    const r = (cfg: Parameters<typeof renderNftScript>[0]) => () => renderNftScript(cfg);
    assert.throws(r({ table: "berth-x", networks: [], ports: [] }), berthError("INVALID_ARGUMENT", /table name/));
    assert.throws(r({ networks: [{ bridge: 'x"y', subnets: [] }], ports: [] }), berthError("INVALID_ARGUMENT"));
    assert.throws(r({ networks: [{ bridge: "b", subnets: ["10.0.0.0"] }], ports: [] }), berthError("INVALID_ARGUMENT"));
    assert.throws(r({ networks: [{ bridge: "b", subnets: [] }, { bridge: "b", subnets: [] }], ports: [] }), berthError("INVALID_ARGUMENT", /twice/));
    assert.throws(r({ networks: [], ports: [{ ...ok, hostPort: 0 }] }), berthError("INVALID_ARGUMENT", /host port/));
    assert.throws(r({ networks: [], ports: [{ ...ok, hostPort: 80, proto: "icmp" as "tcp" }] }), berthError("INVALID_ARGUMENT", /protocol/));
    assert.throws(r({ networks: [], ports: [{ ...ok, hostPort: 80, hostIp: "::" }] }), berthError("INVALID_ARGUMENT", /different families/));
    assert.throws(r({ networks: [], ports: [{ ...ok, hostPort: 80, containerIp: "fd00::2", hostIp: "::1" }] }), berthError("INVALID_ARGUMENT", /::1/));
    assert.throws(r({ networks: [], ports: [{ ...ok, hostPort: 80 }, { ...ok, hostPort: 80, hostIp: "0.0.0.0" }] }), berthError("INVALID_ARGUMENT", /published twice/));
  });
});
