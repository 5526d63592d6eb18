/**
 * Network modes through the real CLI: `none` (lo only), `host` (the host's links), `container:A` (A's
 * interfaces and addresses) and `ns:/path` (a network namespace the test made, with a veth pair inside it).
 * Only the test's own namespace and links are created; the host's are only read.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { hostVethName } from "../../src/network/link-plan.js";
import { hostLinks, freeV4 } from "../helpers/net.js";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 60_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });



/** Interface names in `ip -o link` output ("2: eth0@if9: <...>" -> "eth0"). */
const linkNames = (out: string) =>
  out
    .split("\n")
    .filter(Boolean)
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? `?${l}`);

describe("networks: none, host, container: and ns: modes", () => {
  let sb: ContainerSandbox;
  const net = `nm${Math.random().toString(36).slice(2, 8)}`;
  const prefix = freeV4();
  const n = (s: string) => `${s}-${Math.random().toString(36).slice(2, 6)}`;
  const owner = n("owner");
  let bridge = "";
  // The test's own netns: a file bind-mounted by `unshare --net=FILE`, outside the sandbox dir.
  const nsDir = mkdtempSync(join(tmpdir(), "berth-netns-"));
  const nsFile = join(nsDir, "tenant");
  const sfx = Math.random().toString(36).slice(2, 7);
  const vethA = `vta${sfx}`;
  const vethB = `vtb${sfx}`;
  const nsPrefix = freeV4();

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
    // The veth pair lives only in the test's netns: it goes with it.
    if (existsSync(nsFile)) sh("umount", [nsFile]);
    rmSync(nsDir, { recursive: true, force: true });
    assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(nsFile), `the test's netns ${nsFile} is still mounted`);
    const links = hostLinks().map((l) => l.ifname);
    if (bridge) assert.ok(!links.includes(bridge), `bridge ${bridge} left on the host`);
    assert.ok(!links.includes(vethA) && !links.includes(vethB), "the test's veth ends reached the host");
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });

  it("--network none has only lo", T, () => {
    const out = sb.ok(["run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"]);
    assert.deepEqual(linkNames(out), ["lo"], out);
    assert.equal(sb.ok(["run", "--rm", "--network", "none", "busybox", "ip", "-o", "-4", "addr"]).trim().split("\n").length, 1);
  });

  it("--network host sees the host's interfaces", T, () => {
    const before = hostLinks();
    const out = sb.ok(["run", "--rm", "--network", "host", "busybox", "ip", "-o", "link"]);
    const after = hostLinks();
    const inside = linkNames(out);
    // Other suites may add or remove links meanwhile: every link on the host both before and after must be
    // seen, and nothing the host never had.
    const both = before.map((l) => l.ifname).filter((x) => after.some((a) => a.ifname === x));
    const either = new Set([...before, ...after].map((l) => l.ifname));
    for (const l of both) assert.ok(inside.includes(l), `host link ${l} not seen in --network host:\n${out}`);
    for (const l of inside) assert.ok(either.has(l), `--network host shows ${l}, which the host does not have`);
    assert.ok(inside.length >= both.length && inside.length <= either.size, `${inside.length} links inside, host had ${before.length}/${after.length}`);
    // Same objects, not look-alikes: the host's first real link shows with its MAC.
    const eth = before.find((l) => l.ifname !== "lo" && l.address && both.includes(l.ifname))!;
    assert.ok(out.includes(eth.address!), `${eth.ifname} ${eth.address} inside:\n${out}`);
  });

  it("--network container:A shares A's interfaces and addresses", T, async () => {
    sb.ok(["network", "create", "--subnet", `${prefix}.0/24`, net]);
    bridge = JSON.parse(sb.ok(["network", "inspect", net]))[0].Options.bridge;
    sb.ok(["run", "-d", "--name", owner, "--network", net, "busybox", "sleep", "300"]);
    const ip = sb.inspectF(owner, `{{.NetworkSettings.Networks.${net}.IPAddress}}`);
    const mac = sb.inspectF(owner, `{{.NetworkSettings.Networks.${net}.MacAddress}}`);
    const guest = n("guest");
    sb.ok(["run", "-d", "--name", guest, "--network", `container:${owner}`, "busybox", "sleep", "300"]);
    // IPv4 only: the link-local IPv6 address may finish its duplicate detection between the two reads.
    const a = sb.ok(["exec", owner, "ip", "-o", "-4", "addr", "show", "eth0"]);
    const g = sb.ok(["exec", guest, "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert.ok(g.includes(`inet ${ip}/24`), g);
    assert.equal(g, a);
    assert.ok(sb.ok(["exec", guest, "ip", "link", "show", "eth0"]).includes(mac));
    // Same namespace, not a copy.
    assert.equal(sb.ok(["exec", owner, "readlink", "/proc/1/ns/net"]), sb.ok(["exec", guest, "readlink", "/proc/1/ns/net"]));
    // The guest got no network objects of its own.
    const guestId = sb.inspectF(guest, "{{.Id}}");
    const own = (await sb.leftovers()).filter((l) => l.includes(guestId) || l.includes(hostVethName(guestId, "eth0")));
    assert.deepEqual(own.filter((l) => /^(netns|link) /.test(l)), []);
    sb.ok(["rm", "-f", guest, owner]);
  });

  it("--network ns:/path joins the test's netns and sees the veth put there", T, () => {
    writeFileSync(nsFile, "");
    const u = sh("unshare", [`--net=${nsFile}`, "true"]);
    assert.equal(u.status, 0, u.stderr);
    const inNs = (...args: string[]) => {
      const r = sh("nsenter", [`--net=${nsFile}`, ...args]);
      assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    inNs("ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB);
    inNs("ip", "addr", "add", `${nsPrefix}.1/24`, "dev", vethA);
    inNs("ip", "link", "set", vethA, "up");
    inNs("ip", "link", "set", vethB, "up");
    const out = sb.ok(["run", "--rm", "--network", `ns:${nsFile}`, "busybox", "ip", "-o", "addr"]);
    assert.match(out, new RegExp(`${vethA}\\s+inet ${nsPrefix.replace(/\./g, "\\.")}\\.1/24`), out);
    const links = linkNames(sb.ok(["run", "--rm", "--network", `ns:${nsFile}`, "busybox", "ip", "-o", "link"]));
    assert.deepEqual(links.sort(), ["lo", vethA, vethB].sort());
    // berth leaves a namespace it did not make alone: still there, veths and all.
    assert.ok(existsSync(nsFile));
    assert.match(inNs("ip", "-o", "link"), new RegExp(vethA));
    const r = sb.run(["run", "--rm", "--network", `ns:${nsDir}/nosuch`, "busybox", "true"]);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /no such network namespace/);
  });

  it("nothing of the sandbox remains after rm and network rm", T, async () => {
    sb.ok(["rm", "-af"]);
    sb.ok(["network", "rm", net]);
    assert.ok(!sb.ok(["network", "ls", "--format", "{{.Name}}"]).split("\n").includes(net));
    assert.deepEqual(await sb.leftovers(), []);
    assert.ok(!hostLinks().some((l) => l.ifname === bridge), `bridge ${bridge} left`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left after the last network went");
  });
});
