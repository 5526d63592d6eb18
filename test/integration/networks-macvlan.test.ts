/**
 * macvlan networks through the real CLI, on a bridge the test creates as the parent (this kernel has no
 * dummy driver): two containers get macvlan eth0s with addresses from the network's IPAM and ping each
 * other by address and by name; the parent is left alone by `network rm`; nothing else is touched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { hostLinkNames, freeV4, PeerNetns } from "../helpers/net.js";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 60_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

describe("networks: macvlan on a bridge parent", () => {
  let sb: ContainerSandbox;
  const sfx = Math.random().toString(36).slice(2, 8);
  const parent = `brmv${sfx}`;
  const net = `mv${sfx}`;
  const prefix = freeV4();
  const n = (s: string) => `${s}-${Math.random().toString(36).slice(2, 6)}`;
  const m1 = n("mac1");
  const m2 = n("mac2");

  before(async () => {
    sb = await ContainerSandbox.create();
    const add = sh("ip", ["link", "add", parent, "type", "bridge"]);
    assert.equal(add.status, 0, add.stderr);
    const up = sh("ip", ["link", "set", parent, "up"]);
    assert.equal(up.status, 0, up.stderr);
  });

  after(async () => {
    await sb?.cleanupAsync();
    sh("ip", ["link", "del", parent]);
    assert.ok(!hostLinkNames().includes(parent), `test bridge ${parent} left`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });

  it("network create -d macvlan needs an existing parent and a valid mode", T, () => {
    for (const [args, msg] of [
      [["-d", "macvlan", "--subnet", `${prefix}.0/24`], /needs a parent interface/],
      [["-d", "macvlan", "-o", `parent=nosuch${sfx}`, "--subnet", `${prefix}.0/24`], /does not exist/],
      [["-d", "macvlan", "-o", `parent=${parent}`, "-o", "mode=bogus", "--subnet", `${prefix}.0/24`], /invalid macvlan mode/],
    ] as const) {
      const name = `bad${Math.random().toString(36).slice(2, 7)}`;
      const r = sb.run(["network", "create", ...args, name]);
      assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.ok(!sb.ok(["network", "ls", "--format", "{{.Name}}"]).includes(name));
    }
  });

  it("two containers on a macvlan network ping each other by address and name", T, () => {
    sb.ok(["network", "create", "-d", "macvlan", "-o", `parent=${parent}`, "--subnet", `${prefix}.0/24`, net]);
    const doc = JSON.parse(sb.ok(["network", "inspect", net]))[0];
    assert.equal(doc.Driver, "macvlan");
    assert.deepEqual(doc.Options, { parent, mode: "bridge" });
    sb.ok(["run", "-d", "--name", m1, "--network", net, "busybox", "sleep", "300"]);
    sb.ok(["run", "-d", "--name", m2, "--network", net, "--ip", `${prefix}.42`, "busybox", "sleep", "300"]);
    const ip1 = sb.inspectF(m1, `{{.NetworkSettings.Networks.${net}.IPAddress}}`);
    assert.ok(ip1.startsWith(`${prefix}.`), ip1);
    assert.equal(sb.inspectF(m2, `{{.NetworkSettings.Networks.${net}.IPAddress}}`), `${prefix}.42`);
    const mac2 = sb.inspectF(m2, `{{.NetworkSettings.Networks.${net}.MacAddress}}`);

    // busybox's ip has no -d: look at eth0 from the host, in the container's netns (inspect's SandboxKey).
    const key = sb.inspectF(m2, "{{.NetworkSettings.SandboxKey}}");
    assert.ok(key.startsWith(sb.runroot), key);
    const link = JSON.parse(sh("nsenter", [`--net=${key}`, "ip", "-j", "-d", "link", "show", "eth0"]).stdout || "[]")[0] as { address: string; linkinfo?: { info_kind: string; info_data?: { mode: string } } };
    assert.equal(link?.linkinfo?.info_kind, "macvlan", JSON.stringify(link));
    assert.equal(link.linkinfo!.info_data?.mode, "bridge");
    assert.equal(link.address, mac2);
    assert.match(sb.ok(["exec", m2, "ip", "-o", "-4", "addr", "show", "eth0"]), new RegExp(`inet ${prefix.replace(/\./g, "\\.")}\\.42/24`));

    const script = [ip1, m1].map((t) => `ping -c1 -W2 ${t} >/dev/null 2>&1 && echo "ok ${t}" || echo "FAIL ${t}"`).join("; ");
    const out = sb.ok(["exec", m2, "sh", "-c", script]);
    assert.doesNotMatch(out, /FAIL/, out);
    const back = sb.run(["exec", m1, "ping", "-c1", "-W2", m2]);
    assert.equal(back.code, 0, back.stdout + back.stderr);

    // A restart recreates the macvlan with the same MAC and address (start first clears the previous run's
    // network, which for a macvlan lives in the gone netns).
    sb.ok(["stop", "-t", "0", m2]);
    sb.ok(["start", m2]);
    assert.equal(sb.inspectF(m2, `{{.NetworkSettings.Networks.${net}.MacAddress}}`), mac2);
    const again = sb.run(["exec", m1, "ping", "-c1", "-W2", `${prefix}.42`]);
    assert.equal(again.code, 0, again.stdout + again.stderr);

    // macvlan children hang off the parent; no veth host ends for these containers.
    const children = JSON.parse(sh("ip", ["-j", "-d", "link", "show"]).stdout) as { ifname: string; link?: string }[];
    assert.ok(!children.some((c) => c.link === parent), "the macvlans live in the containers' namespaces, not on the host");
  });

  it("rm and network rm leave the parent alone and nothing of the sandbox", T, async () => {
    sb.ok(["rm", "-f", m1, m2]);
    sb.ok(["network", "rm", net]);
    assert.ok(!sb.ok(["network", "ls", "--format", "{{.Name}}"]).split("\n").includes(net));
    assert.ok(hostLinkNames().includes(parent), "network rm removed the macvlan parent");
    assert.deepEqual(await sb.leftovers(), []);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });
});

/**
 * passthru mode on a veth parent whose peer end sits in another netns (the "switch" side): the container's
 * macvlan takes the whole parent and reaches the peer through it. The kernel allows one passthru macvlan per
 * parent: a second container is refused with a line naming the holder, leaving nothing behind, and gets the
 * parent once the holder stops.
 */
describe("networks: macvlan passthru on a veth parent", () => {
  let sb: ContainerSandbox;
  let peer: PeerNetns | undefined;
  const sfx = Math.random().toString(36).slice(2, 8);
  const net = `pt${sfx}`;
  const prefix = freeV4();
  const peerIp = `${prefix}.250`;
  const n = (s: string) => `${s}-${Math.random().toString(36).slice(2, 6)}`;
  const p1 = n("pt1");
  const p2 = n("pt2");
  let p1Id = "";

  const reachesPeer = (ctr: string) => sb.run(["exec", ctr, "ping", "-c1", "-W2", peerIp]);

  before(async () => {
    sb = await ContainerSandbox.create();
    peer = PeerNetns.create({ tag: sfx, peerAddr: `${peerIp}/24` });
  });

  after(async () => {
    await sb?.cleanupAsync();
    peer?.remove();
    assert.deepEqual(peer?.leftovers() ?? [], [], "peer netns or veth left");
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });

  it("a passthru container gets an address and reaches a peer through the parent", T, () => {
    sb.ok(["network", "create", "-d", "macvlan", "-o", `parent=${peer!.hostIf}`, "-o", "mode=passthru", "--subnet", `${prefix}.0/24`, "--ip-range", `${prefix}.0/25`, net]); // the peer is outside berth's IPAM
    assert.deepEqual(JSON.parse(sb.ok(["network", "inspect", net]))[0].Options, { parent: peer!.hostIf, mode: "passthru" });
    p1Id = sb.ok(["run", "-d", "--name", p1, "--network", net, "busybox", "sleep", "300"]).trim();
    const ip1 = sb.inspectF(p1, `{{.NetworkSettings.Networks.${net}.IPAddress}}`);
    assert.ok(ip1.startsWith(`${prefix}.`) && ip1 !== peerIp, ip1);
    const key = sb.inspectF(p1, "{{.NetworkSettings.SandboxKey}}");
    const link = JSON.parse(sh("nsenter", [`--net=${key}`, "ip", "-j", "-d", "link", "show", "eth0"]).stdout || "[]")[0] as { linkinfo?: { info_kind: string; info_data?: { mode: string } } };
    assert.equal(link?.linkinfo?.info_kind, "macvlan", JSON.stringify(link));
    assert.equal(link.linkinfo!.info_data?.mode, "passthru");
    const out = reachesPeer(p1);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const back = peer!.exec("busybox", ["ping", "-c1", "-W2", ip1]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
  });

  it("a second passthru container on the same parent is refused, leaving nothing", T, async () => {
    const before = sb.containerIds();
    const r = sb.run(["run", "-d", "--name", p2, "--network", net, "busybox", "sleep", "300"]);
    assert.equal(r.code, 125, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`macvlan parent ${peer!.hostIf} is held in passthru mode by container ${p1}.*one passthru macvlan per parent`));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.deepEqual(sb.containerIds().sort(), before.sort(), "no container row left by the refused run");
    assert.deepEqual((await sb.leftovers()).filter((l) => !l.includes(p1Id) && !l.includes(p1Id.slice(0, 12))), [], "nothing of the refused container remains");
    assert.deepEqual(Object.keys(JSON.parse(sb.ok(["network", "inspect", net]))[0].Containers), [p1Id], "the refused container's address was released");
    const still = reachesPeer(p1);
    assert.equal(still.code, 0, `the holder lost its interface: ${still.stdout}${still.stderr}`);
  });

  it("the parent is free again once the holder stops; rm and network rm leave the parent", T, async () => {
    sb.ok(["stop", "-t", "0", p1]);
    sb.ok(["run", "-d", "--name", p2, "--network", net, "busybox", "sleep", "300"]);
    const out = reachesPeer(p2);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const again = sb.run(["start", p1]);
    assert.equal(again.code, 125, again.stdout + again.stderr);
    assert.match(again.stderr, new RegExp(`held in passthru mode by container ${p2}`));
    sb.ok(["rm", "-f", p1, p2]);
    sb.ok(["network", "rm", net]);
    assert.ok(hostLinkNames().includes(peer!.hostIf), "network rm removed the macvlan parent");
    assert.deepEqual(await sb.leftovers(), []);
  });

  it("a parent that already has a macvlan berth does not know is refused with the kernel's reason restated", T, async () => {
    const foreign = `mvf${sfx}`;
    const add = sh("ip", ["link", "add", "link", peer!.hostIf, "name", foreign, "type", "macvlan", "mode", "bridge"]);
    assert.equal(add.status, 0, add.stderr);
    try {
      sb.ok(["network", "create", "-d", "macvlan", "-o", `parent=${peer!.hostIf}`, "-o", "mode=passthru", "--subnet", `${prefix}.0/24`, net]);
      const r = sb.run(["run", "-d", "--name", n("pt3"), "--network", net, "busybox", "sleep", "300"]);
      assert.equal(r.code, 125, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`cannot add a passthru macvlan on ${peer!.hostIf}: the kernel refused it .*must be its parent's only one`));
      assert.deepEqual(sb.containerIds(), []);
      assert.deepEqual(await sb.leftovers(), []);
      assert.ok(hostLinkNames().includes(foreign), "the foreign macvlan was touched");
      sb.ok(["network", "rm", net]);
    } finally {
      sh("ip", ["link", "del", foreign]);
    }
  });
});
