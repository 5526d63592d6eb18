/**
 * Busybox labs through the real CLI: a triangle of point-to-point links plus a shared segment, an SR
 * Linux-style node whose data interfaces are named e1-N inside, management v4/v6 reachable from the host,
 * down/resume with links intact, redeploy of one node without touching the others, and destroy leaving
 * nothing (netns, links, bridges, mounts, networks, state). Bad manifests and failures midway leave nothing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BERTH } from "../helpers/cli.js";
import { ContainerSandbox } from "../helpers/containers.js";
import { hostLinkNames } from "../helpers/net.js";
import { mgmtBridgeName, segmentBridgeName } from "../../src/lab/names.js";
import { bridgePortName } from "../../src/lab/wiring.js";

const T = { timeout: 180_000 };

interface NodeView {
  name: string;
  id?: string;
  state: string;
  mgmtIpv4?: string;
  mgmtIpv6?: string;
  interfaces: { name: string; peer: string | null }[];
}
interface LabView {
  name: string;
  state: string;
  mgmt: { network: string; bridge: string; ipv4Subnet?: string; ipv6Subnet?: string };
  nodes: NodeView[];
  sshConfig: string;
}

const manifest = (name: string) => `
name: ${name}
defaults: {image: "busybox:latest"}
nodes:
  r1:
    cmd: [sleep, "3600"]
    exec: ["ip addr add 10.0.12.1/30 dev eth1", "ip addr add 10.0.31.2/30 dev eth2", "ip addr add 10.9.0.1/24 dev eth3", "ip addr add 10.0.14.1/30 dev eth4"]
    data-interfaces: 5
  r2:
    cmd: [sleep, "3600"]
    exec: ["ip addr add 10.0.12.2/30 dev eth1", "ip addr add 10.0.23.1/30 dev eth2", "ip addr add 10.9.0.2/24 dev eth3"]
  r3:
    cmd: [sleep, "3600"]
    exec: ["ip addr add 10.0.23.2/30 dev eth1", "ip addr add 10.0.31.1/30 dev eth2", "ip addr add 10.9.0.3/24 dev eth3"]
  s1:
    model: srlinux
    image: "busybox:latest"
    cmd: [sleep, "3600"]
    data-interfaces: 3
    exec: ["ip addr add 10.0.14.2/30 dev e1-1"]
links:
  - endpoints: [r1:eth1, r2:eth1]
  - endpoints: [r2:eth2, r3:eth1]
    mtu: 1500
  - endpoints: [r3:eth2, r1:eth2]
  - endpoints: [r1:eth4, "s1:ethernet-1/1"]
bridges:
  - {name: lan, endpoints: [r1:eth3, r2:eth3, r3:eth3]}
`;

/** A lab's own host devices that still exist: its management and segment bridges and the segments' ports. */
function labLinks(lab: string, segments: Record<string, string[]>): string[] {
  const names = [mgmtBridgeName(lab)];
  for (const [seg, eps] of Object.entries(segments)) {
    names.push(segmentBridgeName(lab, seg));
    for (const ep of eps) names.push(bridgePortName(lab, { node: ep.split(":")[0]!, interface: ep.split(":")[1]! }));
  }
  const now = new Set(hostLinkNames());
  return names.filter((n) => now.has(n));
}

describe("labs: busybox topologies", () => {
  let sb: ContainerSandbox;
  let dir: string;
  const lab = `t${Math.random().toString(36).slice(2, 7)}`;
  let view: LabView;

  const inspect = (): LabView => JSON.parse(sb.ok(["lab", "inspect", "--format", "json", lab])) as LabView;
  const node = (v: LabView, n: string) => v.nodes.find((x) => x.name === n)!;
  const execIn = (n: string, cmd: string[]) => sb.run(["lab", "exec", lab, n, ...cmd]);
  const ping = (from: string, to: string) => execIn(from, ["ping", "-c", "1", "-W", "3", to]);
  const pingOk = (from: string, to: string) => {
    const r = ping(from, to);
    assert.equal(r.code, 0, `${from} -> ${to}: ${r.stdout}${r.stderr}`);
  };

  before(async () => {
    sb = await ContainerSandbox.create();
    dir = join(sb.dir, "lab");
    mkdirSync(dir);
    writeFileSync(join(dir, "lab.yaml"), manifest(lab));
  });

  after(async () => {
    await sb.cleanupAsync();
  });

  it("up deploys every node with management addresses and a summary", T, () => {
    const r = sb.run(["lab", "up", "--format", "json", join(dir, "lab.yaml")]);
    assert.equal(r.code, 0, r.stderr);
    view = JSON.parse(r.stdout) as LabView;
    assert.equal(view.state, "running");
    assert.deepEqual(view.nodes.map((n) => n.state), ["running", "running", "running", "running"]);
    assert.match(view.mgmt.ipv4Subnet ?? "", /^172\.31\.\d+\.0\/24$/);
    assert.match(view.mgmt.ipv6Subnet ?? "", /^fd00:b00b:[0-9a-f:]+\/64$/);
    for (const n of view.nodes) {
      assert.ok(n.mgmtIpv4 && n.mgmtIpv6, `${n.name} has management v4 and v6`);
    }
    const table = sb.ok(["lab", "inspect", lab]);
    assert.match(table, /r1\s+linux\s+busybox:latest\s+running\s+172\.31\./);
    assert.deepEqual(JSON.parse(sb.ok(["lab", "ls", "--format", "json"])).map((l: { name: string }) => l.name), [lab]);
  });

  it("pings over each point-to-point link and over the shared segment", T, () => {
    pingOk("r1", "10.0.12.2");
    pingOk("r2", "10.0.23.2");
    pingOk("r3", "10.0.31.2");
    pingOk("r1", "10.9.0.2");
    pingOk("r3", "10.9.0.1");
    pingOk("s1", "10.0.14.1");
  });

  it("names interfaces as the model does and sets MTUs and admin states", T, () => {
    const s1 = execIn("s1", ["ip", "-o", "link", "show"]).stdout;
    assert.match(s1, /: e1-1@/);
    assert.match(s1, /: e1-3@[^:]+: <(?![^>]*\bUP\b)[^>]*>/, "unconnected e1-3 is admin-down");
    assert.doesNotMatch(s1, /: eth1@/);
    assert.match(execIn("r1", ["ip", "-o", "link", "show", "eth1"]).stdout, /mtu 9500/);
    assert.match(execIn("r2", ["ip", "-o", "link", "show", "eth2"]).stdout, /mtu 1500/);
    assert.match(execIn("r1", ["ip", "-o", "link", "show", "eth5"]).stdout, /eth5@[^:]+: <(?![^>]*\bUP\b)[^>]*>/);
    assert.deepEqual(
      node(view, "s1").interfaces.map((i) => [i.name, i.peer]),
      [
        ["e1-1", "r1:eth4"],
        ["e1-2", null],
        ["e1-3", null],
      ],
    );
    assert.equal(node(view, "r1").interfaces.find((i) => i.name === "eth3")?.peer, "bridge:lan");
  });

  it("nodes know each other by name, and the host reaches their management addresses", T, () => {
    pingOk("r1", "r2");
    assert.match(execIn("r3", ["cat", "/etc/hosts"]).stdout, new RegExp(`${node(view, "s1").mgmtIpv4!.replace(/\./g, "\\.")}\\s.*\\bs1\\b`));
    for (const addr of [node(view, "r2").mgmtIpv4!, node(view, "r2").mgmtIpv6!]) {
      const r = spawnSync("busybox", ["ping", "-c", "1", "-W", "3", addr], { encoding: "utf8" });
      assert.equal(r.status, 0, `host -> ${addr}: ${r.stdout}${r.stderr}`);
    }
    const ssh = readFileSync(view.sshConfig, "utf8");
    assert.match(ssh, new RegExp(`Host r2 ${lab}-r2\\n\\s+HostName ${node(view, "r2").mgmtIpv4!.replace(/\\./g, "\\\\.")}\\n`));
  });

  it("graph prints mermaid and dot", T, () => {
    assert.match(sb.ok(["lab", "graph", lab]), /r1[\s\S]*r2/);
    assert.match(sb.ok(["lab", "graph", "--format", "dot", lab]), /graph|digraph/);
  });

  it("down stops the nodes; resume brings them back with their links", T, () => {
    const d = sb.run(["lab", "down", "--format", "json", lab]);
    assert.equal(d.code, 0, d.stderr);
    const v = JSON.parse(d.stdout) as LabView;
    assert.equal(v.state, "down");
    assert.ok(v.nodes.every((n) => n.state === "exited"), JSON.stringify(v.nodes.map((n) => n.state)));
    const r = sb.run(["lab", "resume", "--format", "json", lab]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as LabView).state, "running");
    pingOk("r1", "10.0.12.2");
    pingOk("r2", "10.9.0.3");
    pingOk("s1", "10.0.14.1");
  });

  it("redeploy of one node recreates it and its links; the others are untouched", T, () => {
    const before = inspect();
    const started = (n: string) => sb.inspectF(node(before, n).id!, "{{.State.StartedAt}}");
    const r3Started = started("r3");
    const r = sb.run(["lab", "redeploy", lab, "r2"]);
    assert.equal(r.code, 0, r.stderr);
    const after = inspect();
    assert.notEqual(node(after, "r2").id, node(before, "r2").id, "r2 is a new container");
    assert.equal(node(after, "r2").mgmtIpv4, node(before, "r2").mgmtIpv4, "r2 keeps its management address");
    assert.equal(node(after, "r3").id, node(before, "r3").id);
    assert.equal(sb.inspectF(node(after, "r3").id!, "{{.State.StartedAt}}"), r3Started, "r3 was not restarted");
    // r3 kept running, and its hosts file now names r2 by its new short ID, not the old one.
    const hosts = sb.ok(["lab", "exec", lab, "r3", "cat", "/etc/hosts"]);
    assert.match(hosts, new RegExp(`^${node(after, "r2").mgmtIpv4!.replace(/\\./g, "\\\\.")}\\s.*\\b${node(after, "r2").id!.slice(0, 12)}\\b`, "m"), hosts);
    assert.doesNotMatch(hosts, new RegExp(node(before, "r2").id!.slice(0, 12)), hosts);
    pingOk("r1", "10.0.12.2");
    pingOk("r3", "10.0.23.1");
    pingOk("r2", "10.9.0.1");
  });

  it("destroy removes nodes, links, bridges, netns, networks and state", T, async () => {
    const r = sb.run(["lab", "destroy", lab]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(sb.ok(["lab", "ls", "--format", "json"])), []);
    assert.equal(sb.ok(["ps", "-aq"]).trim(), "");
    assert.deepEqual(JSON.parse(sb.ok(["network", "ls", "--format", "json"])), []);
    assert.deepEqual(await sb.leftovers(), []);
    // The lab's own devices (bridges and bridge ports are named from the lab), not other tests' links.
    assert.deepEqual(labLinks(lab, { lan: ["r1:eth3", "r2:eth3", "r3:eth3"] }), []);
    assert.equal(sb.run(["lab", "inspect", lab]).code, 125);
  });

  it("on a terminal, up shows each node's progress in place; exec -t gets a terminal", T, () => {
    const f = join(dir, "tty.yaml");
    writeFileSync(f, `name: ${lab}p\nnodes:\n  alpha: {image: "busybox:latest", cmd: [sleep, "60"]}\n  beta: {image: "busybox:latest", cmd: [sleep, "60"]}\nlinks: [{endpoints: [alpha:eth1, beta:eth1]}]\n`);
    const q = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    const cmd = (a: string[]) => [BERTH, ...sb.args(a)].map(q).join(" ");
    try {
      const up = spawnSync("script", ["-qec", cmd(["lab", "up", f]), "/dev/null"], { encoding: "utf8", input: "", timeout: 120_000 });
      assert.equal(up.status, 0, up.stdout);
      assert.match(up.stdout, /\x1b\[\d*F/, "redraws in place");
      assert.match(up.stdout, /alpha\s+ready/);
      assert.match(up.stdout, /beta\s+ready/);
      assert.match(up.stdout, /NODE\s+MODEL/);
      const tty = spawnSync("script", ["-qec", cmd(["lab", "exec", "-t", `${lab}p`, "alpha", "tty"]), "/dev/null"], { encoding: "utf8", input: "", timeout: 60_000 });
      assert.equal(tty.status, 0, tty.stdout);
      assert.match(tty.stdout, /\/dev\/pts\/\d+/);
      // Piped, progress is one line per event on stderr.
      const piped = sb.run(["lab", "destroy", `${lab}p`]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stderr, /alpha: remove/);
    } finally {
      if (sb.run(["lab", "inspect", `${lab}p`]).code === 0) sb.run(["lab", "destroy", `${lab}p`]);
    }
  });

  it("bad manifests create nothing and name the problem", T, async () => {
    const bad = (name: string, body: string, message: RegExp) => {
      const f = join(dir, `${name}.yaml`);
      writeFileSync(f, body);
      const r = sb.run(["lab", "up", f]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    };
    bad("unknown-node", `name: ${lab}x\nnodes: {a: {image: "busybox:latest"}}\nlinks: [{endpoints: [a:eth1, b:eth1]}]\n`, /links\[0\]\.endpoints\[1\].*"?b"?/);
    bad("twice", `name: ${lab}y\nnodes: {a: {image: "busybox:latest"}, b: {image: "busybox:latest"}}\nlinks: [{endpoints: [a:eth1, b:eth1]}, {endpoints: [a:eth1, b:eth2]}]\n`, /eth1/);
    bad("syntax", `name: [\n`, /line|column|yaml/i);
    assert.deepEqual(JSON.parse(sb.ok(["lab", "ls", "--format", "json"])), []);
    assert.equal(sb.ok(["ps", "-aq"]).trim(), "");
    assert.deepEqual(JSON.parse(sb.ok(["network", "ls", "--format", "json"])), []);
  });

  it("a failure midway (missing image, missing file) rolls back everything", T, async () => {
    const f = join(dir, "midway.yaml");
    writeFileSync(f, `name: ${lab}m\nnodes:\n  a: {image: "busybox:latest", cmd: [sleep, "60"]}\n  b: {image: "busybox:latest", cmd: [sleep, "60"], files: [{source: missing.conf, destination: /etc/x.conf}]}\nlinks: [{endpoints: [a:eth1, b:eth1]}]\n`);
    let r = sb.run(["lab", "up", "-q", f]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /missing\.conf/);
    writeFileSync(f, `name: ${lab}m\nnodes:\n  a: {image: "busybox:latest", cmd: [sleep, "60"]}\n  b: {image: "127.0.0.1:1/nope:1", cmd: [sleep, "60"]}\nlinks: [{endpoints: [a:eth1, b:eth1]}]\n`);
    r = sb.run(["lab", "up", "-q", f]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /nope/);
    // A failure after nodes exist: b's command cannot start, so `a` was created, wired and started first.
    writeFileSync(f, `name: ${lab}m\nnodes:\n  a: {image: "busybox:latest", cmd: [sleep, "60"]}\n  b: {image: "busybox:latest", cmd: [/no/such/binary]}\nlinks: [{endpoints: [a:eth1, b:eth1]}]\nbridges: [{name: seg, endpoints: [a:eth2, b:eth2]}]\n`);
    r = sb.run(["lab", "up", "-q", f]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no\/such\/binary/);
    assert.deepEqual(JSON.parse(sb.ok(["lab", "ls", "--format", "json"])), []);
    assert.equal(sb.ok(["ps", "-aq"]).trim(), "");
    assert.deepEqual(JSON.parse(sb.ok(["network", "ls", "--format", "json"])), []);
    assert.deepEqual(await sb.leftovers(), []);
    assert.deepEqual(labLinks(`${lab}m`, { seg: ["a:eth2", "b:eth2"] }), []);
  });
});
