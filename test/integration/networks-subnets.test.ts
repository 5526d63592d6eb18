/**
 * Subnet choice through the real CLI: a --subnet overlapping another berth network (IPv4 or IPv6, either
 * containing the other) or a route of the host is refused with exit 125 and a message naming what it
 * overlaps, leaving no network and no bridge; subnets picked from the pool avoid both.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { hostLinkNames, freeV4 } from "../helpers/net.js";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 60_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });


function freeV6(): string {
  const routes = sh("ip", ["-j", "-6", "route", "show"]).stdout;
  const g = () => randomInt(0x1000, 0x10000).toString(16);
  for (;;) {
    const p = `fd${randomInt(0x10, 0x100).toString(16)}:${g()}:${g()}:${g()}`;
    if (!routes.includes(`"${p}:`)) return p;
  }
}

/** The IPv4 network (a.b.c.d/len) of an address on the interface of the host's default route (else any global one). */
function hostSubnet(): { cidr: string; dev: string } {
  const def = (JSON.parse(sh("ip", ["-j", "-4", "route", "show", "default"]).stdout || "[]") as { dev?: string }[])[0]?.dev;
  const links = JSON.parse(sh("ip", ["-j", "-4", "addr", "show"]).stdout || "[]") as { ifname: string; addr_info: { local: string; prefixlen: number; scope: string }[] }[];
  const link = links.find((l) => l.ifname === def && l.addr_info.some((a) => a.scope === "global")) ?? links.find((l) => l.addr_info.some((a) => a.scope === "global" && a.prefixlen < 32));
  assert.ok(link, "the host has a global IPv4 address to overlap");
  const a = link.addr_info.find((x) => x.scope === "global")!;
  const n = a.local.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = a.prefixlen === 0 ? 0 : 2 ** 32 - 2 ** (32 - a.prefixlen);
  const net = Number((BigInt(n) & BigInt(mask)).toString());
  const ip = [24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join(".");
  return { cidr: `${ip}/${a.prefixlen}`, dev: link.ifname };
}

describe("networks: overlapping subnets", () => {
  let sb: ContainerSandbox;
  const tag = Math.random().toString(36).slice(2, 7);
  const first = `ov${tag}`;
  const pool = `op${tag}`;
  const v4 = freeV4();
  const v6 = freeV6();
  const bridges: string[] = [];
  const names = () => sb.ok(["network", "ls", "--format", "{{.Name}}"]).split("\n").filter(Boolean);

  const refused = (args: string[], msg: RegExp) => {
    const name = `x${Math.random().toString(36).slice(2, 8)}`;
    const r = sb.run(["network", "create", ...args, name]);
    assert.equal(r.code, 125, `network create ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!names().includes(name), `refused network ${name} is listed`);
    const r2 = sb.run(["network", "inspect", name]);
    assert.equal(r2.code, 125, "refused network can be inspected");
  };

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
    const links = hostLinkNames();
    for (const b of bridges) assert.ok(!links.includes(b), `bridge ${b} left on the host`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });

  it("a subnet overlapping another berth network is refused, naming it", T, () => {
    sb.ok(["network", "create", "--subnet", `${v4}.0/24`, "--subnet", `${v6}::/64`, first]);
    bridges.push(JSON.parse(sb.ok(["network", "inspect", first]))[0].Options.bridge);
    const names4 = new RegExp(`overlap.*${first}|${first}.*overlap`, "i");
    refused(["--subnet", `${v4}.0/24`], names4);
    refused(["--subnet", `${v4}.128/25`], names4);
    refused(["--subnet", `${v4.split(".").slice(0, 2).join(".")}.0.0/16`], names4);
    refused(["--subnet", `${v6}::/64`], names4);
    refused(["--subnet", `${v6}:0:1::/96`], names4);
    assert.deepEqual(names(), [first]);
  });

  it("a subnet overlapping a route of the host is refused", T, () => {
    const h = hostSubnet();
    refused(["--subnet", h.cidr], /overlaps host (route|address) /);
    assert.deepEqual(names(), [first]);
  });

  it("subnets from the pool avoid the host's routes and the other networks", T, () => {
    sb.ok(["network", "create", "--ipv6", pool]);
    const doc = JSON.parse(sb.ok(["network", "inspect", pool]))[0];
    bridges.push(doc.Options.bridge);
    const subnets = doc.IPAM.Config.map((c: { Subnet: string }) => c.Subnet) as string[];
    assert.equal(subnets.length, 2, JSON.stringify(doc.IPAM));
    assert.ok(!subnets.includes(`${v4}.0/24`) && !subnets.includes(`${v6}::/64`));
    const h = hostSubnet();
    assert.ok(!subnets.includes(h.cidr));
    // The kernel agrees: the new bridge's routes are the only ones for these subnets.
    for (const s of subnets) {
      const routes = JSON.parse(sh("ip", ["-j", ...(s.includes(":") ? ["-6"] : []), "route", "show", "match", s.split("/")[0]!]).stdout || "[]") as { dst: string; dev: string }[];
      const exact = routes.filter((r) => r.dst === s || r.dst === s.replace(/\/\d+$/, "") + "/" + s.split("/")[1]);
      assert.deepEqual(exact.map((r) => r.dev), [doc.Options.bridge], `${s}: ${JSON.stringify(routes)}`);
    }
  });

  it("network rm removes the networks, their bridges and the firewall table", T, () => {
    sb.ok(["network", "rm", first, pool]);
    assert.deepEqual(names(), []);
    const links = hostLinkNames();
    for (const b of bridges) assert.ok(!links.includes(b), `bridge ${b} left on the host`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left after the last network went");
  });
});
