/**
 * Link plans applied for real: a test bridge, two netns attached with veths (IPv4 + IPv6) that ping
 * each other and the gateway, macvlans on a bridge parent, failure reporting and rollback, detach,
 * and teardown that leaves no link or netns behind. Only links and namespaces the test creates.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { BerthError } from "../../src/core/errors.js";
import { applyBatch, applyLinkPlan, attach, detach, ensureBridge, kernelSupports, removeBridge, type ProbeKind } from "../../src/network/apply.js";
import { hostVethName, planAttach, type AttachSpec } from "../../src/network/link-plan.js";
import { createNetns, deleteNetns, listNetns } from "../../src/network/netns.js";
import { berthError } from "../helpers/errors.js";

const T = { timeout: 30_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });
const sfx = randomBytes(3).toString("hex");
const BR = `bt${sfx}`; // veth bridge
const PARENT = `bm${sfx}`; // macvlan parent (a bridge: this kernel has no dummy driver)

interface IpLink {
  ifname: string;
  address?: string;
  master?: string;
  flags: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
const hostLinks = (): IpLink[] => JSON.parse(sh("ip", ["-j", "addr"]).stdout) as IpLink[];
const nsLinks = (path: string): IpLink[] => {
  const r = sh("nsenter", [`--net=${path}`, "ip", "-j", "addr"]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as IpLink[];
};
function ping(path: string, addr: string): void {
  const r = sh("nsenter", [`--net=${path}`, "busybox", "ping", "-c1", "-W2", addr]);
  assert.equal(r.status, 0, `ping ${addr} from ${path}: ${r.stdout}${r.stderr}`);
}

/** A /24 and a /64 not overlapping any route on the host. */
function freeSubnets(): { v4: string; v6: string } {
  const routes = JSON.stringify([JSON.parse(sh("ip", ["-j", "route"]).stdout), JSON.parse(sh("ip", ["-j", "-6", "route"]).stdout)]);
  for (;;) {
    const v4 = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
    const g = () => randomInt(0x1000, 0x10000).toString(16); // 4 digits: already in canonical form
    const v6 = `fd${randomInt(0x10, 0x100).toString(16)}:${g()}:${g()}:1`;
    if (!routes.includes(`"${v4}.`) && !routes.includes(`"${v6}:`)) return { v4, v6 };
  }
}

describe("net: link plans on the host", () => {
  let runroot = "";
  let nsA = "";
  let nsB = "";
  const net1 = freeSubnets();
  const net2 = freeSubnets();
  const specA = (): AttachSpec => ({
    netnsPath: nsA,
    key: `a${sfx}`,
    interfaces: [
      { kind: "veth", bridge: BR, ifname: "eth0", mac: "02:42:0a:00:00:0a", mtu: 1400, addresses: [`${net1.v4}.2/24`, `${net1.v6}::2/64`], gateways: [`${net1.v4}.1`, `${net1.v6}::1`] },
    ],
  });
  const specB = (): AttachSpec => ({
    netnsPath: nsB,
    key: `b${sfx}`,
    interfaces: [{ kind: "veth", bridge: BR, ifname: "eth0", mac: "02:42:0a:00:00:0b", addresses: [`${net1.v4}.3/24`, `${net1.v6}::3/64`], gateways: [`${net1.v4}.1`, `${net1.v6}::1`] }],
  });
  const macA = (): AttachSpec => ({
    netnsPath: nsA,
    key: `a${sfx}`,
    loopback: false,
    interfaces: [{ kind: "macvlan", parent: PARENT, mode: "bridge", ifname: "eth1", mac: "02:42:0b:00:00:0a", addresses: [`${net2.v4}.10/24`, `${net2.v6}::10/64`], promisc: true }],
  });
  const macB = (): AttachSpec => ({
    netnsPath: nsB,
    key: `b${sfx}`,
    loopback: false,
    interfaces: [{ kind: "macvlan", parent: PARENT, mode: "bridge", ifname: "eth1", addresses: [`${net2.v4}.11/24`, `${net2.v6}::11/64`] }],
  });
  const ours = () => hostLinks().filter((l) => l.ifname.includes(sfx) || l.ifname === hostVethName(`a${sfx}`, "eth0") || l.ifname === hostVethName(`b${sfx}`, "eth0"));

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (make test runs them as root)");
    for (const k of ["veth", "bridge", "macvlan"] as const) {
      const s = await kernelSupports(k);
      assert.ok(s.supported, `required: ${s.supported ? "" : s.reason}`);
    }
    runroot = mkdtempSync(join(tmpdir(), "berth-links-"));
    nsA = await createNetns(runroot, `a${sfx}`);
    nsB = await createNetns(runroot, `b${sfx}`);
  });

  after(async () => {
    // Everything the test may have created, whatever happened above.
    for (const n of [hostVethName(`a${sfx}`, "eth0"), hostVethName(`b${sfx}`, "eth0"), BR, PARENT]) sh("ip", ["link", "delete", "dev", n]);
    for (const n of await listNetns(runroot).catch(() => [])) await deleteNetns(runroot, n).catch(() => undefined);
    rmSync(runroot, { recursive: true, force: true });
    assert.deepEqual(ours().map((l) => l.ifname), [], "no test link is left on the host");
  });

  it("probes kernel features and reports gaps in one line", T, async (t) => {
    for (const k of ["dummy", "vlan", "ipvlan", "netem", "vxlan"] as ProbeKind[]) {
      const s = await kernelSupports(k);
      if (!s.supported) {
        assert.match(s.reason, /^this kernel has no .+: .+$/);
        assert.doesNotMatch(s.reason, /\n/);
      }
      t.diagnostic(`${k}: ${s.supported ? "supported" : s.reason}`);
    }
    assert.equal(await kernelSupports("dummy"), await kernelSupports("dummy"), "cached");
  });

  it("ensures a bridge idempotently: gateway addresses, no link-local, up", T, async () => {
    const spec = { name: BR, mtu: 1500, addresses: [`${net1.v4}.1/24`, `${net1.v6}::1/64`] };
    await ensureBridge(spec);
    await ensureBridge(spec);
    await ensureBridge({ name: PARENT });
    const br = hostLinks().find((l) => l.ifname === BR);
    assert.ok(br, "bridge exists");
    assert.ok(br.flags.includes("UP"));
    const addrs = (br.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).sort();
    assert.deepEqual(addrs, [`${net1.v4}.1/24`, `${net1.v6}::1/64`].sort(), "exactly the gateways, no fe80:: (addrgenmode none)");
    const d = JSON.parse(sh("ip", ["-j", "-d", "link", "show", "dev", BR]).stdout) as { linkinfo: { info_kind: string } }[];
    assert.equal(d[0]!.linkinfo.info_kind, "bridge");
  });

  it("attaches two netns with one ip -batch per side; names, MACs, MTU and addresses as planned", T, async (t) => {
    const plan = planAttach(specA());
    const t0 = performance.now();
    await applyLinkPlan(plan);
    const ms = performance.now() - t0;
    t.diagnostic(`one attach (host batch ${plan.host.length} lines + netns batch ${plan.netns.length} lines): ${ms.toFixed(1)} ms`);
    await attach(specB());

    const a = nsLinks(nsA);
    assert.deepEqual(a.map((l) => l.ifname).sort(), ["eth0", "lo"]);
    const eth0 = a.find((l) => l.ifname === "eth0")!;
    assert.equal(eth0.address, "02:42:0a:00:00:0a");
    assert.equal((eth0 as unknown as { mtu: number }).mtu, 1400);
    assert.ok(eth0.flags.includes("UP"));
    assert.ok(a.find((l) => l.ifname === "lo")!.flags.includes("UP"));
    const globals = (eth0.addr_info ?? []).filter((x) => !x.local.startsWith("fe80")).map((x) => `${x.local}/${x.prefixlen}`);
    assert.deepEqual(globals, [`${net1.v4}.2/24`, `${net1.v6}::2/64`]);
    assert.equal(nsLinks(nsB).find((l) => l.ifname === "eth0")!.address, "02:42:0a:00:00:0b");

    const host = hostLinks().find((l) => l.ifname === hostVethName(`a${sfx}`, "eth0"));
    assert.ok(host, "host end exists under its derived name");
    assert.equal(host.master, BR);
    const routes = sh("nsenter", [`--net=${nsA}`, "ip", "-j", "route", "show", "default"]).stdout;
    assert.match(routes, new RegExp(`"gateway":"${net1.v4}.1"`));
    const routes6 = sh("nsenter", [`--net=${nsA}`, "ip", "-j", "-6", "route", "show", "default"]).stdout;
    assert.match(routes6, new RegExp(`"gateway":"${net1.v6}::1"`));
  });

  it("the two netns ping each other and the gateway over IPv4 and IPv6", T, () => {
    ping(nsA, `${net1.v4}.3`);
    ping(nsB, `${net1.v4}.2`);
    ping(nsA, `${net1.v6}::3`);
    ping(nsB, `${net1.v6}::2`);
    ping(nsA, `${net1.v4}.1`);
    ping(nsA, `${net1.v6}::1`);
    ping(nsA, "127.0.0.1");
  });

  it("macvlans on a bridge parent: created inside as eth1, promiscuous on request, and they talk", T, async () => {
    await attach(macA());
    await attach(macB());
    const a1 = nsLinks(nsA).find((l) => l.ifname === "eth1")!;
    assert.ok(a1, "eth1 in netns A");
    assert.equal(a1.address, "02:42:0b:00:00:0a");
    assert.ok(a1.flags.includes("PROMISC"));
    assert.ok(!nsLinks(nsB).find((l) => l.ifname === "eth1")!.flags.includes("PROMISC"));
    assert.equal(hostLinks().filter((l) => l.ifname === "eth1").length, 0, "no eth1 on the host");
    ping(nsA, `${net2.v4}.11`);
    ping(nsB, `${net2.v6}::10`);
  });

  it("a failing line is reported as one line naming the command; a failed attach rolls back only its own links", T, async () => {
    await assert.rejects(
      applyBatch(["link set dev lo up", `link set dev nx${sfx} up`], { netnsPath: nsA }),
      (e: unknown) => {
        assert.ok(e instanceof BerthError);
        assert.equal(e.code, "NOT_FOUND");
        assert.equal(e.message, `"ip link set dev nx${sfx} up" in netns ${nsA} failed: Cannot find device "nx${sfx}"`);
        return true;
      },
    );
    // Attaching A again fails on its first line (the host veth exists) and must not delete it.
    await assert.rejects(attach(specA()), berthError("ALREADY_EXISTS", new RegExp(`^"ip link add name ${hostVethName(`a${sfx}`, "eth0")} .*" failed: .*File exists$`)));
    assert.ok(hostLinks().some((l) => l.ifname === hostVethName(`a${sfx}`, "eth0")), "the existing attachment survived");
    ping(nsA, `${net1.v4}.3`);
    // A spec that fails in the netns half: the veth it created on the host is removed again.
    const bad: AttachSpec = { netnsPath: nsB, key: `x${sfx}`, loopback: false, interfaces: [{ kind: "veth", bridge: BR, ifname: "eth9", addresses: [`${net1.v4}.9/24`, `${net1.v4}.9/24`] }] };
    await assert.rejects(attach(bad), berthError("ALREADY_EXISTS", /address add .* in netns .* failed/));
    assert.ok(!hostLinks().some((l) => l.ifname === hostVethName(`x${sfx}`, "eth9")), "rolled back");
    assert.ok(!nsLinks(nsB).some((l) => l.ifname === "eth9"));
    // Refused when a same-named non-bridge exists.
    await assert.rejects(ensureBridge({ name: hostVethName(`a${sfx}`, "eth0") }), berthError("CONFLICT", /is a veth/));
  });

  it("detach removes the links, idempotently", T, async () => {
    await detach(macA());
    assert.ok(!nsLinks(nsA).some((l) => l.ifname === "eth1"));
    await detach(macA());
    await detach(specB());
    assert.ok(!hostLinks().some((l) => l.ifname === hostVethName(`b${sfx}`, "eth0")));
    assert.deepEqual(nsLinks(nsB).map((l) => l.ifname).sort(), ["eth1", "lo"], "the peer died with the host end");
    await detach(specB());
  });

  it("teardown leaves no link, bridge or netns of the test", T, async () => {
    await removeBridge(BR);
    await removeBridge(PARENT);
    await removeBridge(PARENT);
    await deleteNetns(runroot, `a${sfx}`);
    await deleteNetns(runroot, `b${sfx}`);
    assert.deepEqual(await listNetns(runroot), []);
    assert.deepEqual(ours().map((l) => l.ifname), [], "veth host ends died with their netns");
    // A detach after the netns is gone is still fine.
    await detach(specA());
  });
});
