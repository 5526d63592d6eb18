/**
 * `network create -o promisc=true`: every container interface on that network is promiscuous (eth0 at run,
 * eth1 on a live connect, again after a restart), interfaces of other networks are not, `network inspect`
 * shows the option, and a bad value is one clear line that creates nothing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox } from "../helpers/containers.js";
import { freeV4, hostLinkNames } from "../helpers/net.js";

const T = { timeout: 60_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

describe("networks: promiscuous interfaces on request", () => {
  let sb: ContainerSandbox;
  const tag = Math.random().toString(36).slice(2, 8);
  const promNet = `pr${tag}`;
  const plainNet = `pl${tag}`;
  const p1 = freeV4();
  const p2 = freeV4([p1]);
  const n = (s: string) => `${s}-${Math.random().toString(36).slice(2, 6)}`;
  const c1 = n("prom");
  const c2 = n("plain");
  const bridges: string[] = [];

  /**
   * The flags of an interface in the container's netns, by iproute2's `ip link show` (busybox 1.35's ip prints
   * IFF_PROMISC as a bare "100"); checked against the container's own view, its sysfs (IFF_PROMISC = 0x100).
   */
  const flags = (ctr: string, dev: string) => {
    const key = sb.inspectF(ctr, "{{.NetworkSettings.SandboxKey}}");
    const r = sh("nsenter", [`--net=${key}`, "ip", "link", "show", dev]);
    assert.equal(r.status, 0, r.stderr);
    const out = /<([^>]*)>/.exec(r.stdout)?.[1]?.split(",") ?? [];
    const sysfs = Number(sb.ok(["exec", ctr, "cat", `/sys/class/net/${dev}/flags`]).trim());
    assert.equal((sysfs & 0x100) !== 0, out.includes("PROMISC"), `ip says ${out.join(",")}, the container's sysfs ${sysfs.toString(16)}`);
    return out;
  };

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
    const links = hostLinkNames();
    for (const b of bridges) assert.ok(!links.includes(b), `bridge ${b} left`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });

  it("a bad promisc value is refused in one line and creates nothing", T, () => {
    const r = sb.run(["network", "create", "-o", "promisc=yes", "--subnet", `${p1}.0/24`, promNet]);
    assert.equal(r.code, 125, r.stdout + r.stderr);
    assert.match(r.stderr, /invalid network option promisc=yes: expected true, false, on, off, 1 or 0/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!sb.ok(["network", "ls", "--format", "{{.Name}}"]).split("\n").includes(promNet));
  });

  it("-o promisc=true puts eth0 in promiscuous mode; inspect shows the option", T, () => {
    sb.ok(["network", "create", "-o", "promisc=true", "--subnet", `${p1}.0/24`, promNet]);
    sb.ok(["network", "create", "-o", "promisc=off", "--subnet", `${p2}.0/24`, plainNet]);
    const prom = JSON.parse(sb.ok(["network", "inspect", promNet]))[0];
    const plain = JSON.parse(sb.ok(["network", "inspect", plainNet]))[0];
    bridges.push(prom.Options.bridge, plain.Options.bridge);
    assert.equal(prom.Options.promisc, "true");
    assert.equal(plain.Options.promisc, undefined, "promisc=off is the default and is not shown");
    sb.ok(["run", "-d", "--name", c1, "--network", promNet, "busybox", "sleep", "300"]);
    sb.ok(["run", "-d", "--name", c2, "--network", plainNet, "busybox", "sleep", "300"]);
    assert.ok(flags(c1, "eth0").includes("PROMISC"), flags(c1, "eth0").join(","));
    assert.ok(!flags(c2, "eth0").includes("PROMISC"), flags(c2, "eth0").join(","));
  });

  it("a live connect to the promisc network gives a promiscuous eth1; a restart keeps it", T, () => {
    sb.ok(["network", "connect", promNet, c2]);
    assert.ok(flags(c2, "eth1").includes("PROMISC"), flags(c2, "eth1").join(","));
    assert.ok(!flags(c2, "eth0").includes("PROMISC"), "the other network's interface stays as it was");
    sb.ok(["restart", "-t", "0", c2]);
    assert.ok(flags(c2, "eth1").includes("PROMISC"), `after restart: ${flags(c2, "eth1").join(",")}`);
    assert.ok(!flags(c2, "eth0").includes("PROMISC"));
  });

  it("rm and network rm leave nothing", T, async () => {
    sb.ok(["rm", "-f", c1, c2]);
    sb.ok(["network", "rm", promNet, plainNet]);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
