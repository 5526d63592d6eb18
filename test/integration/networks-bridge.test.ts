/**
 * User bridge networks through the real CLI: two containers on a v4+v6 network ping each other by address,
 * by name and by alias, the gateway answers, /etc/hosts is refreshed when a peer starts, static --ip is
 * honoured and a duplicate refused, inspect shows addresses and a MAC that survives stop/start, and a live
 * connect/disconnect adds and removes eth1. Only links and namespaces the test creates are touched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { hostVethName } from "../../src/network/link-plan.js";
import { hostLinkNames, freeV4 } from "../helpers/net.js";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 60_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

/** A random ULA /64 prefix ("fdxx:xxxx:xxxx:xxxx") that no IPv6 route on the host mentions. */
function freeV6(): string {
  const routes = sh("ip", ["-j", "-6", "route", "show"]).stdout;
  const g = () => randomInt(0x1000, 0x10000).toString(16); // 4 digits: canonical
  for (;;) {
    const p = `fd${randomInt(0x10, 0x100).toString(16)}:${g()}:${g()}:${g()}`;
    if (!routes.includes(`"${p}:`)) return p;
  }
}



describe("networks: user bridge networks", () => {
  let sb: ContainerSandbox;
  const netA = `na${Math.random().toString(36).slice(2, 8)}`;
  const netB = `nb${Math.random().toString(36).slice(2, 8)}`;
  const pa = freeV4();
  const pb = freeV4([pa]);
  // Network A gets an explicit random IPv6 subnet (the pool's first choice is the same on every berth
  // root, so any stale table of another berth on this host could claim it); network B's comes from the pool.
  const pa6 = freeV6();
  const bridges: string[] = [];
  const n = (s: string) => `${s}-${Math.random().toString(36).slice(2, 6)}`;
  const c1 = n("one");
  const c2 = n("two");
  const c3 = n("three");

  const ping = (ctr: string, target: string, v6 = false) => {
    const r = sb.run(["exec", ctr, "ping", ...(v6 ? ["-6"] : []), "-c1", "-W2", target]);
    assert.equal(r.code, 0, `ping ${v6 ? "-6 " : ""}${target} from ${ctr}: ${r.stdout}${r.stderr}`);
  };
  /** Several pings from one container in one exec (each berth exec costs a process start); all must answer. */
  const pingAll = (ctr: string, targets: string[]) => {
    const script = targets.map((t) => `if ping -c1 -W2 ${t} >/dev/null 2>&1; then echo "ok ${t}"; else echo "FAIL ${t}"; fi`).join("; ");
    const out = sb.ok(["exec", ctr, "sh", "-c", script]);
    assert.deepEqual(out.split("\n").filter((l) => l.startsWith("FAIL")), [], `from ${ctr}:\n${out}`);
    assert.equal(out.split("\n").filter((l) => l.startsWith("ok ")).length, targets.length, out);
  };
  const ipOf = (ctr: string, net: string) => sb.inspectF(ctr, `{{.NetworkSettings.Networks.${net}.IPAddress}}`);

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
    // cleanupAsync removes the sandbox's networks with `network rm -f`: nothing of them may stay on the host.
    const links = hostLinkNames();
    for (const b of bridges) assert.ok(!links.includes(b), `bridge ${b} left on the host`);
    assert.ok(!links.includes(`bt${sb.tag}`), "default bridge left on the host");
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });

  it("creates a v4+v6 bridge network with its bridge, gateway and firewall table", T, () => {
    sb.ok(["network", "create", "--subnet", `${pa}.0/24`, "--subnet", `${pa6}::/64`, netA]);
    const doc = JSON.parse(sb.ok(["network", "inspect", netA]))[0];
    assert.equal(doc.Driver, "bridge");
    assert.equal(doc.EnableIPv6, true);
    const v4 = doc.IPAM.Config.find((c: { Subnet: string }) => !c.Subnet.includes(":"));
    const v6 = doc.IPAM.Config.find((c: { Subnet: string }) => c.Subnet.includes(":"));
    assert.equal(v4.Subnet, `${pa}.0/24`);
    assert.equal(v6?.Subnet, `${pa6}::/64`, JSON.stringify(doc.IPAM));
    const br = doc.Options.bridge as string;
    assert.match(br, /^br-[0-9a-f]{12}$/);
    assert.ok(doc.Id.startsWith(br.slice(3)), `bridge named after the id: ${br} ${doc.Id}`);
    bridges.push(br);
    const addrs = JSON.parse(sh("ip", ["-j", "addr", "show", "dev", br]).stdout)[0].addr_info.map((a: { local: string }) => a.local);
    assert.ok(addrs.includes(v4.Gateway), `gateway ${v4.Gateway} on ${br}: ${addrs}`);
    assert.ok(addrs.includes(v6.Gateway), `gateway ${v6.Gateway} on ${br}: ${addrs}`);
    assert.match(sh("nft", ["list", "table", "inet", `berth_t${sb.tag}`]).stdout, new RegExp(br));
    assert.ok(sb.ok(["network", "ls", "--format", "{{.Name}}"]).split("\n").includes(netA));
  });

  it("two containers ping each other by IPv4, IPv6, name and alias; the gateway answers; hosts refreshed", T, () => {
    sb.ok(["run", "-d", "--name", c1, "--network", netA, "--network-alias", `${c1}-alias`, "busybox", "sleep", "300"]);
    const hostsBefore = sb.ok(["exec", c1, "cat", "/etc/hosts"]);
    assert.ok(!hostsBefore.includes(c2), `no ${c2} before it exists:\n${hostsBefore}`);
    sb.ok(["run", "-d", "--name", c2, "--network", netA, "--ip", `${pa}.77`, "busybox", "sleep", "300"]);

    const doc2 = sb.inspectJson(c2).NetworkSettings.Networks[netA];
    assert.equal(doc2.IPAddress, `${pa}.77`, "static --ip honoured");
    assert.equal(doc2.IPPrefixLen, 24);
    assert.match(doc2.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.match(doc2.GlobalIPv6Address, /:/);
    const ip1 = ipOf(c1, netA);
    assert.ok(ip1.startsWith(`${pa}.`), ip1);
    const ip6of1 = sb.inspectF(c1, `{{.NetworkSettings.Networks.${netA}.GlobalIPv6Address}}`);
    const gw = sb.inspectF(c1, `{{.NetworkSettings.Networks.${netA}.Gateway}}`);
    const gw6 = sb.inspectF(c1, `{{.NetworkSettings.Networks.${netA}.IPv6Gateway}}`);

    // The interface inside carries what inspect says.
    const eth0 = sb.ok(["exec", c2, "ip", "-o", "addr", "show", "eth0"]);
    assert.match(eth0, new RegExp(`inet ${pa.replace(/\./g, "\\.")}\\.77/24`));
    assert.ok(eth0.includes(doc2.GlobalIPv6Address), eth0);
    assert.ok(sb.ok(["exec", c2, "ip", "link", "show", "eth0"]).includes(doc2.MacAddress));

    pingAll(c1, [`${pa}.77`, `-6 ${doc2.GlobalIPv6Address}`, gw, `-6 ${gw6}`]);

    // The first container's /etc/hosts learnt the second when it started.
    const hosts1 = sb.ok(["exec", c1, "cat", "/etc/hosts"]);
    assert.match(hosts1, new RegExp(`^${pa.replace(/\./g, "\\.")}\\.77\\s.*\\b${c2}\\b`, "m"), hosts1);
    pingAll(c1, [c2, `-6 ${c2}`]);
    pingAll(c2, [ip1, `-6 ${ip6of1}`, c1, `-6 ${c1}`, `${c1}-alias`, `-6 ${c1}-alias`]);
  });

  it("a duplicate --ip is refused with exit 125 and leaves nothing", T, async () => {
    const before = sb.containerIds();
    const r = sb.run(["run", "-d", "--name", c3, "--network", netA, "--ip", `${pa}.77`, "busybox", "sleep", "300"]);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, new RegExp(`${pa.replace(/\./g, "\\.")}\\.77`));
    assert.deepEqual(sb.containerIds().sort(), before.sort(), "no container row left");
    const members = Object.values(JSON.parse(sb.ok(["network", "inspect", netA]))[0].Containers).map((c) => (c as { Name: string }).Name);
    assert.deepEqual(members.sort(), [c1, c2].sort());
    // The two running containers legitimately own their netns, veths, processes...; nothing else may exist.
    const ids = sb.containerIds();
    const theirs = (l: string) => ids.some((id) => l.includes(id) || l.includes(id.slice(0, 12)) || l.includes(hostVethName(id, "eth0")));
    const all = await sb.leftovers();
    assert.deepEqual(all.filter((l) => !theirs(l)), [], "nothing of the refused container");
    assert.equal(all.filter((l) => l.startsWith("link vb")).length, 2, `the two running containers' veths: ${all}`);
    assert.equal(all.filter((l) => l.startsWith("netns ")).length, 2, `the two running containers' netns: ${all}`);
  });

  it("the MAC and addresses stay the same across stop/start", T, () => {
    const before = sb.inspectJson(c2).NetworkSettings.Networks[netA];
    sb.ok(["stop", "-t", "0", c2]);
    sb.ok(["start", c2]);
    const afterDoc = sb.inspectJson(c2).NetworkSettings.Networks[netA];
    assert.equal(afterDoc.MacAddress, before.MacAddress);
    assert.equal(afterDoc.IPAddress, before.IPAddress);
    assert.equal(afterDoc.GlobalIPv6Address, before.GlobalIPv6Address);
    assert.ok(sb.ok(["exec", c2, "ip", "link", "show", "eth0"]).includes(before.MacAddress));
    ping(c1, c2);
  });

  it("connect and disconnect live: eth1 appears, reaches network B, and goes", T, () => {
    sb.ok(["network", "create", "--subnet", `${pb}.0/24`, "--ipv6", netB]);
    const docB = JSON.parse(sb.ok(["network", "inspect", netB]))[0];
    bridges.push(docB.Options.bridge);
    const poolV6 = docB.IPAM.Config.find((c: { Subnet: string }) => c.Subnet.includes(":"));
    assert.match(poolV6?.Subnet ?? "", /^fd[0-9a-f:]+\/64$/, `--ipv6 takes a /64 from the pool: ${JSON.stringify(docB.IPAM)}`);
    assert.notEqual(poolV6.Subnet, `${pa6}::/64`);
    const cb = n("bee");
    sb.ok(["run", "-d", "--name", cb, "--network", netB, "busybox", "sleep", "300"]);
    const ipB = ipOf(cb, netB);
    assert.ok(ipB.startsWith(`${pb}.`), ipB);
    // Different bridge networks are isolated.
    const iso = sb.run(["exec", c1, "ping", "-c1", "-W1", ipB]);
    assert.notEqual(iso.code, 0, `network A reached network B without being connected: ${iso.stdout}`);

    assert.equal(sb.run(["exec", c1, "ip", "link", "show", "eth1"]).code !== 0, true, "no eth1 before connect");
    sb.ok(["network", "connect", netB, c1]);
    const ip1b = ipOf(c1, netB);
    assert.ok(ip1b.startsWith(`${pb}.`), ip1b);
    const eth1 = sb.ok(["exec", c1, "ip", "-o", "-4", "addr", "show", "eth1"]);
    assert.ok(eth1.includes(`inet ${ip1b}/24`), eth1);
    ping(c1, ipB);
    pingAll(cb, [ip1b]);
    assert.equal(sb.inspectF(c1, `{{.NetworkSettings.Networks.${netB}.Interface}}`), "eth1");

    sb.ok(["network", "disconnect", netB, c1]);
    const r = sb.run(["exec", c1, "ip", "link", "show", "eth1"]);
    assert.notEqual(r.code, 0, `eth1 still there after disconnect: ${r.stdout}`);
    assert.ok(!(netB in sb.inspectJson(c1).NetworkSettings.Networks), "inspect forgets network B");
    ping(c1, c2); // eth0 untouched
    sb.ok(["rm", "-f", cb]);
  });

  it("removing containers and networks leaves nothing on the host", T, async () => {
    sb.ok(["rm", "-f", c1, c2]);
    const inUse = sb.run(["network", "rm", netA]);
    assert.equal(inUse.code, 0, inUse.stderr);
    sb.ok(["network", "rm", netB]);
    const names = sb.ok(["network", "ls", "--format", "{{.Name}}"]).split("\n").filter(Boolean);
    assert.ok(!names.includes(netA) && !names.includes(netB), `networks still listed: ${names}`);
    assert.deepEqual(await sb.leftovers(), []);
    const links = hostLinkNames();
    for (const b of bridges) assert.ok(!links.includes(b), `bridge ${b} left on the host`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left after the last network went");
  });
});
