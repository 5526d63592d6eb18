/**
 * The nftables rules that keep 127.0.0.0/8 local: prerouting DNAT never applies to a loopback destination
 * arriving from another interface, and berth's route_localnet bridges deliver only localhost-DNAT replies to it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderNftScript } from "../../src/network/nft.js";

const chain = (script: string, name: string): string[] | undefined => {
  const lines = script.split("\n");
  const start = lines.indexOf(`\tchain ${name} {`);
  return start < 0 ? undefined : lines.slice(start + 1, lines.indexOf("\t}", start)).map((l) => l.trim());
};

describe("network nft: loopback guards", () => {
  const port = { hostIp: "127.0.0.1", hostPort: 8080, proto: "tcp" as const, containerIp: "10.88.0.2", containerPort: 80 };

  it("with published ports, prerouting returns on 127.0.0.0/8 from other interfaces before the DNAT jump", () => {
    const s = renderNftScript({ networks: [{ bridge: "berth0", subnets: ["10.88.0.0/16"] }], ports: [port] });
    assert.deepEqual(chain(s, "prerouting"), ["type nat hook prerouting priority dstnat; policy accept;", 'iifname != "lo" ip daddr 127.0.0.0/8 return', "fib daddr type local jump published"]);
    // The host's own connections (output hook) are untouched: 127.0.0.1:PORT still works locally.
    assert.deepEqual(chain(s, "output"), ["type nat hook output priority -100; policy accept;", "ip6 daddr ::1 return", "fib daddr type local jump published"]);
  });

  it("without published ports there is nothing to guard in prerouting", () => {
    const s = renderNftScript({ networks: [{ bridge: "berth0", subnets: ["10.88.0.0/16"] }], ports: [] });
    assert.deepEqual(chain(s, "prerouting"), ["type nat hook prerouting priority dstnat; policy accept;", "fib daddr type local jump published"]);
  });

  it("input: non-internal bridges pass only DNAT-tracked traffic to 127.0.0.0/8; internal ones are not listed", () => {
    const s = renderNftScript({
      networks: [
        { bridge: "berth0", subnets: ["10.88.0.0/16"] },
        { bridge: "br1", subnets: ["10.89.0.0/24"] },
        { bridge: "brint", subnets: ["10.90.0.0/24"], internal: true },
      ],
      ports: [],
    });
    assert.deepEqual(chain(s, "input"), [
      "type filter hook input priority filter; policy accept;",
      'iifname { "berth0", "br1" } ip daddr 127.0.0.0/8 ct status dnat return',
      'iifname { "berth0", "br1" } ip daddr 127.0.0.0/8 drop',
    ]);
    // The return comes first: an untracked packet has no ct status and must still meet the drop.
  });

  it("no input chain when no bridge has route_localnet", () => {
    assert.equal(chain(renderNftScript({ networks: [], ports: [] }), "input"), undefined);
    assert.equal(chain(renderNftScript({ networks: [{ bridge: "brint", subnets: ["10.90.0.0/24"], internal: true }], ports: [] }), "input"), undefined);
  });
});
