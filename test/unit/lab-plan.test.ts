import assert from "node:assert/strict";
import { test } from "node:test";
import { parseManifest, type LabManifest } from "../../src/lab/manifest.js";
import { getModel, MODELS } from "../../src/lab/models.js";
import { mgmtBridgeName, segmentBridgeName } from "../../src/lab/names.js";
import { planLab } from "../../src/lab/plan.js";
import type { LabModel, LabPlan, NodePlan } from "../../src/lab/types.js";
import { berthError } from "../helpers/errors.js";

/** The example, completed with the nodes its links name. */
const TRI = `
name: tri
mgmt: {ipv4-subnet: 172.31.5.0/24, ipv6-subnet: "fd00:b00b:5::/64"}
defaults: {model: linux}
nodes:
  r1:
    model: frr
    image: 127.0.0.1:5000/frr:1
    mgmt-ipv4: 172.31.5.11
    cpus: 1
    memory: 256MiB
    data-interfaces: 4
    privileged: false
    env: {KEY: value}
    files:
      - {source: r1/extra.conf, destination: /etc/frr/extra.conf, owner: frr, group: frr, mode: "0640"}
    startup-config: r1/frr.conf
    binds: ["data:/data"]
    exec: ["ip addr add 10.0.12.1/30 dev eth1"]
  r2: {model: frr, image: 127.0.0.1:5000/frr:1, mgmt-ipv6: "fd00:b00b:5:0:0:0:0:12"}
  h1: {}
links:
  - endpoints: [r1:eth1, r2:eth1]
    mtu: 9000
  - endpoints: [r1:eth2, r2:eth2]
bridges:
  - {name: lan, endpoints: [r1:eth3, r2:eth3, h1:eth1]}
`;

const parse = (text: string): LabManifest => parseManifest(text, { baseDir: "/labs/tri" });
const plan = (text: string): LabPlan => planLab(parse(text));
const nodeOf = (p: LabPlan, name: string): NodePlan => p.nodes.find((n) => n.name === name)!;
const refused = (message: string) => berthError("INVALID_ARGUMENT", new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
/** A one-line manifest body: nodes and wiring given as YAML flow text. */
const lab = (nodes: string, rest = "") => `name: t\nnodes: ${nodes}\n${rest}`;

test("lab plan: the issue's example", () => {
  const p = plan(TRI);
  assert.equal(p.name, "tri");
  assert.equal(p.baseDir, "/labs/tri");
  assert.deepEqual(p.mgmt, { network: "lab-tri", bridge: mgmtBridgeName("tri"), ipv4Subnet: "172.31.5.0/24", ipv6Subnet: "fd00:b00b:5::/64" });
  assert.deepEqual(p.nodes.map((n) => [n.name, n.container, n.model]), [["r1", "tri-r1", "frr"], ["r2", "tri-r2", "frr"], ["h1", "tri-h1", "linux"]]);

  const r1 = nodeOf(p, "r1");
  assert.equal(r1.image, "127.0.0.1:5000/frr:1");
  assert.equal(r1.mgmtInterface, "eth0");
  assert.equal(r1.mgmtIpv4, "172.31.5.11");
  assert.equal(r1.mgmtIpv6, undefined);
  assert.equal(r1.cpus, 1);
  assert.equal(r1.memory, 256 * 2 ** 20);
  assert.equal(r1.privileged, false);
  assert.deepEqual(r1.env, ["KEY=value"]);
  assert.equal(r1.cmd, undefined, "frr leaves the command to the image");
  assert.deepEqual(r1.sysctls, { "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1" });
  assert.deepEqual(r1.capAdd, ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN"]);
  assert.deepEqual(r1.binds, ["/labs/tri/data:/data"]);
  assert.deepEqual(r1.exec, ["ip addr add 10.0.12.1/30 dev eth1"]);
  // Model files first, then the startup-config at the model's place, then the node's files.
  assert.deepEqual(
    r1.files.map((f) => [f.destination, f.source, f.owner, f.group, f.mode]),
    [
      ["/etc/frr/daemons", undefined, "frr", "frr", 0o640],
      ["/etc/frr/frr.conf", "/labs/tri/r1/frr.conf", "frr", "frr", 0o640],
      ["/etc/frr/extra.conf", "/labs/tri/r1/extra.conf", "frr", "frr", 0o640],
    ],
  );
  assert.match(r1.files[0]!.content!, /^bgpd=yes$/m);
  assert.deepEqual(r1.interfaces, [
    { name: "eth1", index: 1, peer: { kind: "link", link: 0, node: "r2", interface: "eth1" } },
    { name: "eth2", index: 2, peer: { kind: "link", link: 1, node: "r2", interface: "eth2" } },
    { name: "eth3", index: 3, peer: { kind: "bridge", bridge: "lan" } },
    { name: "eth4", index: 4, peer: { kind: "none" } },
  ]);

  const r2 = nodeOf(p, "r2");
  assert.equal(r2.mgmtIpv6, "fd00:b00b:5::12", "static addresses are canonical");
  assert.deepEqual(r2.interfaces.map((i) => i.name), ["eth1", "eth2", "eth3"]);

  const h1 = nodeOf(p, "h1");
  assert.equal(h1.image, "busybox:latest");
  assert.deepEqual(h1.interfaces, [{ name: "eth1", index: 1, peer: { kind: "bridge", bridge: "lan" } }]);
  assert.deepEqual(h1.capAdd, ["CAP_NET_ADMIN", "CAP_NET_RAW"]);
  assert.ok(h1.cmd && h1.cmd[0] === "sh", "linux nodes stay up without a terminal");

  assert.deepEqual(p.links, [
    { endpoints: [{ node: "r1", interface: "eth1" }, { node: "r2", interface: "eth1" }], mtu: 9000 },
    { endpoints: [{ node: "r1", interface: "eth2" }, { node: "r2", interface: "eth2" }], mtu: 9500 },
  ]);
  assert.deepEqual(p.bridges, [
    { name: "lan", device: segmentBridgeName("tri", "lan"), mtu: 9500, endpoints: [{ node: "r1", interface: "eth3" }, { node: "r2", interface: "eth3" }, { node: "h1", interface: "eth1" }] },
  ]);
  // Plans are data: they survive JSON (the executor stores them).
  assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
});

test("lab plan: manifest aliases resolve to the names each model uses inside the node", () => {
  const p = plan(
    lab(
      "{h: {}, f: {model: frr}, s: {model: srlinux}, c: {model: ceos}}",
      "links:\n" +
        "  - endpoints: [h:eth1, f:eth1]\n" +
        "  - endpoints: [s:e1-1, c:Ethernet1]\n" +
        "  - endpoints: ['s:ethernet-1/2', c:eth2]\n" +
        "  - endpoints: ['s:ethernet-1/10', c:Ethernet12]\n",
    ),
  );
  assert.deepEqual(
    p.links.map((l) => l.endpoints.map((e) => `${e.node}:${e.interface}`)),
    [["h:eth1", "f:eth1"], ["s:e1-1", "c:eth1"], ["s:e1-2", "c:eth2"], ["s:e1-10", "c:eth12"]],
  );
  assert.deepEqual(nodeOf(p, "s").interfaces.map((i) => i.name), ["e1-1", "e1-2", "e1-3", "e1-4", "e1-5", "e1-6", "e1-7", "e1-8", "e1-9", "e1-10"]);
  assert.deepEqual(nodeOf(p, "s").interfaces[2]!.peer, { kind: "none" });
  assert.deepEqual(nodeOf(p, "c").interfaces[11]!.peer, { kind: "link", link: 3, node: "s", interface: "e1-10" });
});

test("lab plan: built-in models", () => {
  assert.deepEqual(Object.keys(MODELS).sort(), ["ceos", "frr", "linux", "srlinux"]);
  for (const m of Object.values(MODELS)) {
    assert.equal(m.mgmtInterface, "eth0", m.name);
    assert.ok(m.maxDataInterfaces >= 1 && m.dataInterfaces <= m.maxDataInterfaces, m.name);
  }
  const s = nodeOf(plan(lab("{s: {model: srlinux}, c: {model: ceos}}", "")), "s");
  assert.equal(s.privileged, true);
  assert.equal(s.image, MODELS.srlinux!.image);
  const p = plan(lab("{s: {model: srlinux, startup-config: s.json}, c: {model: ceos, startup-config: c.cfg}}"));
  assert.deepEqual(nodeOf(p, "s").files, [{ source: "/labs/tri/s.json", destination: "/etc/opt/srlinux/config.json" }]);
  const c = nodeOf(p, "c");
  assert.deepEqual(c.files, [{ source: "/labs/tri/c.cfg", destination: "/mnt/flash/startup-config" }]);
  assert.equal(c.privileged, true);
  assert.ok(c.env.includes("CEOS=1") && c.env.includes("INTFTYPE=eth"));
  assert.ok(c.cmd?.[0] === "/sbin/init" && c.cmd.includes("systemd.setenv=CEOS=1"));
  const frr = getModel("frr");
  assert.match(frr.files[0]!.content, /^zebra=yes$/m);
  for (const d of ["ospfd", "ospf6d", "bgpd"]) assert.match(frr.files[0]!.content, new RegExp(`^${d}=yes$`, "m"));
  assert.match(frr.files[0]!.content, /^vtysh_enable=yes$/m);
  assert.throws(() => getModel("junos"), berthError("INVALID_ARGUMENT", /^unknown lab model "junos" \(known models: ceos, frr, linux, srlinux\)$/));
  assert.throws(() => getModel("toString"), /unknown lab model "toString"/);
});

test("lab plan: precedence is node, then defaults, then model", () => {
  const p = plan(`
name: t
defaults:
  model: frr
  image: reg.local/frr:9
  memory: 1GiB
  env: {A: defaults, B: defaults}
  sysctls: {net.ipv4.ip_forward: "0", kernel.x: "1"}
  cap-add: [SYS_PTRACE]
  exec: [first]
  binds: ["a:/a", "b:/b:ro"]
  files: [{source: d.conf, destination: /etc/d.conf}]
  startup-config: default.conf
nodes:
  r1:
    image: reg.local/frr:10
    env: {B: node, C: node}
    sysctls: {kernel.x: "2"}
    cap-add: [net_admin, CAP_BPF]
    exec: [second]
    binds: ["/abs/b:/b"]
    files: [{source: /abs/n.conf, destination: /etc/d.conf}]
  r2: {model: ceos, memory: 64MiB, cmd: []}
  r3: {startup-config: r3.conf, files: [{source: over.conf, destination: /etc/frr/frr.conf/}]}
`);
  const r1 = nodeOf(p, "r1");
  assert.equal(r1.model, "frr");
  assert.equal(r1.image, "reg.local/frr:10");
  assert.equal(r1.memory, 2 ** 30);
  assert.deepEqual(r1.env, ["A=defaults", "B=node", "C=node"]);
  assert.deepEqual(r1.sysctls, { "net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "1", "kernel.x": "2" });
  assert.deepEqual(r1.capAdd, ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_BPF"]);
  assert.deepEqual(r1.exec, ["first", "second"]);
  assert.deepEqual(r1.binds, ["/labs/tri/a:/a", "/abs/b:/b"]);
  assert.deepEqual(
    r1.files.map((f) => [f.destination, f.source ?? "(model)"]),
    [["/etc/frr/daemons", "(model)"], ["/etc/frr/frr.conf", "/labs/tri/default.conf"], ["/etc/d.conf", "/abs/n.conf"]],
  );

  const r2 = nodeOf(p, "r2");
  assert.equal(r2.model, "ceos");
  assert.equal(r2.image, "reg.local/frr:9", "defaults apply to every node, whatever its model");
  assert.equal(r2.memory, 64 * 2 ** 20);
  assert.equal(r2.cmd, undefined, "cmd: [] drops the model's command for the image's");
  assert.deepEqual(r2.files.map((f) => [f.destination, f.source]), [["/etc/d.conf", "/labs/tri/d.conf"], ["/mnt/flash/startup-config", "/labs/tri/default.conf"]]);

  const r3 = nodeOf(p, "r3");
  assert.deepEqual(
    r3.files.map((f) => [f.destination, f.source ?? "(model)"]),
    [["/etc/frr/daemons", "(model)"], ["/etc/d.conf", "/labs/tri/d.conf"], ["/etc/frr/frr.conf/", "/labs/tri/over.conf"]],
    "a node's file replaces its startup-config at the same destination",
  );
});

test("lab plan: a node's own model defaults when nothing is set", () => {
  const r = nodeOf(plan(lab("{r: {model: frr, privileged: true, data-interfaces: 2}}")), "r");
  assert.equal(r.privileged, true);
  assert.deepEqual(r.interfaces, [
    { name: "eth1", index: 1, peer: { kind: "none" } },
    { name: "eth2", index: 2, peer: { kind: "none" } },
  ]);
  assert.deepEqual(nodeOf(plan(lab("{h: {}}")), "h").interfaces, []);
});

test("lab plan: custom models come through the options", () => {
  const vr: LabModel = { ...MODELS.linux!, name: "vr", image: "vr:1", maxDataInterfaces: 8, interfaces: { template: "ge-0-0-{n}", aliases: ["ge-0/0/{n}", "xe{n}"] } };
  const p = planLab(parse(lab("{a: {model: vr}, b: {model: vr}}", "links: [{endpoints: ['a:xe1', 'b:ge-0/0/2']}]")), { models: { ...MODELS, vr } });
  assert.deepEqual(p.links[0]!.endpoints, [{ node: "a", interface: "ge-0-0-1" }, { node: "b", interface: "ge-0-0-2" }]);
  const bad: LabModel = { ...vr, name: "bad", interfaces: { template: "ge-0/0/{n}", aliases: [] } };
  assert.throws(() => planLab(parse(lab("{a: {model: bad}}")), { models: { bad } }), berthError("INVALID_ARGUMENT", /^lab model bad: interface template "ge-0\/0\/\{n\}" gives "ge-0\/0\/1", not a valid Linux interface name/));
  assert.throws(() => plan(lab("{a: {model: vr}}")), refused('lab manifest: nodes.a.model: unknown model "vr" (known models: ceos, frr, linux, srlinux)'));
});

test("lab plan: links and bridges must name nodes that exist", () => {
  assert.throws(() => plan(lab("{r1: {}}", "links: [{endpoints: [r1:eth1, r9:eth1]}]")), refused('lab manifest: links[0].endpoints[1]: unknown node "r9" in "r9:eth1"'));
  assert.throws(() => plan(lab("{r1: {}}", "bridges: [{name: lan, endpoints: [r1:eth1, r9:eth2]}]")), refused('lab manifest: bridges[0].endpoints[1]: unknown node "r9" in "r9:eth2"'));
});

test("lab plan: an interface is wired once, whichever spelling names it", () => {
  assert.throws(
    () => plan(lab("{a: {}, b: {}, c: {}}", "links: [{endpoints: [a:eth1, b:eth1]}, {endpoints: [a:eth1, c:eth1]}]")),
    refused('lab manifest: links[1].endpoints[0]: "a:eth1" is already used by links[0].endpoints[0]'),
  );
  assert.throws(
    () => plan(lab("{a: {}, c: {model: ceos}}", "links: [{endpoints: [a:eth1, c:Ethernet1]}]\nbridges: [{name: lan, endpoints: [a:eth2, c:eth1]}]")),
    refused('lab manifest: bridges[0].endpoints[1]: "c:eth1" is already used by links[0].endpoints[1] (as "c:Ethernet1")'),
  );
  assert.throws(
    () => plan(lab("{a: {}}", "bridges: [{name: x, endpoints: [a:eth1]}, {name: y, endpoints: [a:eth2, a:eth1]}]")),
    refused('lab manifest: bridges[1].endpoints[1]: "a:eth1" is already used by bridges[0].endpoints[0]'),
  );
  assert.throws(() => plan(lab("{a: {}}", "bridges: [{name: x, endpoints: [a:eth1, a:eth1]}]")), /bridges\[0\]\.endpoints\[1\]: "a:eth1" is already used by bridges\[0\]\.endpoints\[0\]/);
  assert.throws(() => plan(lab("{s: {model: srlinux}}", "links: [{endpoints: ['s:e1-1', 's:ethernet-1/1']}]")), refused('lab manifest: links[0]: both endpoints are the same interface ("s:e1-1" and "s:ethernet-1/1")'));
  // A cable from a node to itself between two ports is fine.
  assert.equal(plan(lab("{a: {}}", "links: [{endpoints: [a:eth1, a:eth2]}]")).nodes[0]!.interfaces.length, 2);
});

test("lab plan: interface names the model does not have", () => {
  assert.throws(() => plan(lab("{a: {}, b: {}}", "links: [{endpoints: [a:eth0, b:eth1]}]")), refused('lab manifest: links[0].endpoints[0]: "a:eth0" is the management interface of a; data links use ethN from 1'));
  assert.throws(() => plan(lab("{s: {model: srlinux}, b: {}}", "links: [{endpoints: [s:eth0, b:eth1]}]")), /links\[0\]\.endpoints\[0\]: "s:eth0" is the management interface of s; data links use e1-N or ethernet-1\/N from 1/);
  assert.throws(() => plan(lab("{s: {model: srlinux}, b: {}}", "links: [{endpoints: [s:e1-0, b:eth1]}]")), refused('lab manifest: links[0].endpoints[0]: "s:e1-0": data interfaces are numbered from 1'));
  assert.throws(() => plan(lab("{s: {model: srlinux}, b: {}}", "links: [{endpoints: [s:eth1, b:eth1]}]")), refused('lab manifest: links[0].endpoints[0]: "s:eth1": model srlinux names data interfaces e1-N or ethernet-1/N'));
  assert.throws(() => plan(lab("{a: {}, b: {}}", "links: [{endpoints: [a:eth01, b:eth1]}]")), /"a:eth01": model linux names data interfaces ethN/);
  assert.throws(() => plan(lab("{c: {model: ceos}, b: {}}", "links: [{endpoints: [c:ethernet1, b:eth1]}]")), /"c:ethernet1": model ceos names data interfaces ethN or EthernetN/);
});

test("lab plan: more interfaces than the model has", () => {
  assert.throws(() => plan(lab("{a: {model: frr}, b: {}}", "links: [{endpoints: [a:eth256, b:eth1]}]")), refused('lab manifest: links[0].endpoints[0]: "a:eth256": model frr has at most 255 data interfaces'));
  assert.throws(() => plan(lab("{s: {model: srlinux}}", "bridges: [{name: x, endpoints: ['s:ethernet-1/129']}]")), refused('lab manifest: bridges[0].endpoints[0]: "s:ethernet-1/129": model srlinux has at most 128 data interfaces'));
  assert.throws(() => plan(lab("{a: {model: ceos, data-interfaces: 129}}")), refused("lab manifest: nodes.a.data-interfaces: 129 is more than model ceos has (at most 128)"));
  assert.throws(() => plan(`name: t\ndefaults: {data-interfaces: 300}\nnodes: {a: {}}\n`), refused("lab manifest: defaults.data-interfaces: 300 is more than model linux has (at most 255)"));
  assert.equal(nodeOf(plan(lab("{a: {model: frr}}", "bridges: [{name: x, endpoints: [a:eth255]}]")), "a").interfaces.length, 255);
});

test("lab plan: MTUs are 68..65535, 9500 by default", () => {
  assert.throws(() => plan(lab("{a: {}}", "links: [{endpoints: [a:eth1, a:eth2], mtu: 67}]")), refused("lab manifest: links[0].mtu: invalid MTU 67: expected 68 to 65535"));
  assert.throws(() => plan(lab("{a: {}}", "bridges: [{name: x, endpoints: [a:eth1], mtu: 65536}]")), refused("lab manifest: bridges[0].mtu: invalid MTU 65536: expected 68 to 65535"));
  const p = plan(lab("{a: {}}", "links: [{endpoints: [a:eth1, a:eth2], mtu: 68}]\nbridges: [{name: x, endpoints: [a:eth3], mtu: 1500}]"));
  assert.equal(p.links[0]!.mtu, 68);
  assert.equal(p.bridges[0]!.mtu, 1500);
});

test("lab plan: bridge names are unique; host device names are short, stable and distinct", () => {
  assert.throws(() => plan(lab("{a: {}}", "bridges: [{name: lan, endpoints: [a:eth1]}, {name: lan, endpoints: [a:eth2]}]")), refused('lab manifest: bridges[1].name: duplicate bridge name "lan" (also bridges[0])'));
  const one = plan(lab("{a: {}}", "bridges: [{name: lan, endpoints: [a:eth1]}, {name: wan, endpoints: [a:eth2]}]"));
  const other = planLab(parse(`name: t2\nnodes: {a: {}}\nbridges: [{name: lan, endpoints: [a:eth1]}]\n`));
  const devices = [one.mgmt.bridge, ...one.bridges.map((b) => b.device), other.mgmt.bridge, other.bridges[0]!.device];
  for (const d of devices) assert.match(d, /^b[ml][0-9a-f]{13}$/, d);
  for (const d of devices) assert.ok(d.length <= 15, d);
  assert.equal(new Set(devices).size, devices.length, "distinct within and across labs");
  assert.equal(plan(lab("{a: {}}", "bridges: [{name: lan, endpoints: [a:eth1]}]")).bridges[0]!.device, one.bridges[0]!.device, "deterministic");
  assert.notEqual(segmentBridgeName("a", "b-c"), segmentBridgeName("a-b", "c"));
  const names = new Set<string>();
  for (let i = 0; i < 2000; i++) names.add(segmentBridgeName(`lab${i % 50}`, `seg${i}`));
  assert.equal(names.size, 2000);
});

test("lab plan: container names stay valid hostnames", () => {
  const long = "a".repeat(32);
  assert.equal(planLab(parse(`name: ${long}\nnodes: {${"n".repeat(30)}: {}}\n`)).nodes[0]!.container.length, 63);
  assert.throws(
    () => planLab(parse(`name: ${long}\nnodes: {${"n".repeat(31)}: {}}\n`)),
    refused(`lab manifest: nodes.${"n".repeat(31)}: container name "${long}-${"n".repeat(31)}" is longer than 63 characters (it is also the node's hostname); shorten the lab or node name`),
  );
});

test("lab plan: management subnets are valid CIDRs of the right family with room for the nodes", () => {
  const withMgmt = (mgmt: string, nodes = "{a: {}}") => plan(`name: t\nmgmt: ${mgmt}\nnodes: ${nodes}\n`);
  assert.throws(() => withMgmt("{ipv4-subnet: 172.31.5.1/24}"), refused('lab manifest: mgmt.ipv4-subnet: invalid subnet "172.31.5.1/24": host bits are set, it should be 172.31.5.0/24'));
  assert.throws(() => withMgmt("{ipv4-subnet: 172.31.5.0}"), /lab manifest: mgmt\.ipv4-subnet: invalid subnet "172\.31\.5\.0": expected ADDRESS\/PREFIX/);
  assert.throws(() => withMgmt("{ipv4-subnet: 172.31.5.0/33}"), /mgmt\.ipv4-subnet: invalid subnet "172\.31\.5\.0\/33": the prefix length must be a number from 0 to 32/);
  assert.throws(() => withMgmt("{ipv4-subnet: 'fd00::/64'}"), refused('lab manifest: mgmt.ipv4-subnet: expected an IPv4 subnet, got "fd00::/64"'));
  assert.throws(() => withMgmt("{ipv6-subnet: 10.0.0.0/24}"), refused('lab manifest: mgmt.ipv6-subnet: expected an IPv6 subnet, got "10.0.0.0/24"'));
  assert.throws(() => withMgmt("{ipv6-subnet: 'fd00::1/64'}"), /mgmt\.ipv6-subnet: invalid subnet "fd00::1\/64": host bits are set, it should be fd00::\/64/);
  assert.throws(() => withMgmt("{ipv4-subnet: 10.0.0.0/30}", "{a: {}, b: {}}"), refused('lab manifest: mgmt.ipv4-subnet: "10.0.0.0/30" has room for 1 node address, the lab has 2 nodes'));
  assert.deepEqual(withMgmt("{ipv4-subnet: 10.0.0.0/30}").mgmt.ipv4Subnet, "10.0.0.0/30");
  assert.equal(withMgmt("{ipv6-subnet: 'FD00:0::/64'}").mgmt.ipv6Subnet, "fd00::/64");
  const auto = plan(lab("{a: {}}"));
  assert.equal(auto.mgmt.ipv4Subnet, undefined);
  assert.equal(auto.mgmt.ipv6Subnet, undefined);
});

test("lab plan: static management addresses fit the subnet, avoid its reserved addresses and each other", () => {
  const withAddr = (nodes: string, mgmt = "{ipv4-subnet: 172.31.5.0/24, ipv6-subnet: 'fd00:5::/64'}") => plan(`name: t\nmgmt: ${mgmt}\nnodes: ${nodes}\n`);
  assert.equal(nodeOf(withAddr("{a: {mgmt-ipv4: 172.31.5.254}}"), "a").mgmtIpv4, "172.31.5.254");
  assert.throws(() => withAddr("{a: {mgmt-ipv4: 172.31.6.11}}"), refused('lab manifest: nodes.a.mgmt-ipv4: "172.31.6.11" is not inside mgmt.ipv4-subnet 172.31.5.0/24'));
  assert.throws(() => withAddr("{a: {mgmt-ipv4: 172.31.5.0}}"), refused('lab manifest: nodes.a.mgmt-ipv4: "172.31.5.0" is the network address of mgmt.ipv4-subnet 172.31.5.0/24'));
  assert.throws(() => withAddr("{a: {mgmt-ipv4: 172.31.5.255}}"), refused('lab manifest: nodes.a.mgmt-ipv4: "172.31.5.255" is the broadcast address of mgmt.ipv4-subnet 172.31.5.0/24'));
  assert.throws(() => withAddr("{a: {mgmt-ipv4: 172.31.5.1}}"), refused("lab manifest: nodes.a.mgmt-ipv4: \"172.31.5.1\" is the gateway of mgmt.ipv4-subnet 172.31.5.0/24 (the host's address on the management bridge)"));
  assert.throws(() => withAddr("{a: {mgmt-ipv4: 172.31.5.300}}"), refused('lab manifest: nodes.a.mgmt-ipv4: invalid address "172.31.5.300": not an IPv4 or IPv6 address'));
  assert.throws(() => withAddr("{a: {mgmt-ipv4: 'fd00:5::2'}}"), refused('lab manifest: nodes.a.mgmt-ipv4: invalid address "fd00:5::2": expected an IPv4 address'));
  assert.throws(() => withAddr("{a: {mgmt-ipv4: 172.31.5.11}, b: {mgmt-ipv4: 172.31.5.11}}"), refused('lab manifest: nodes.b.mgmt-ipv4: "172.31.5.11" is also the management address of node a'));
  assert.throws(() => withAddr("{a: {mgmt-ipv6: 'fd00:5::b'}, b: {mgmt-ipv6: 'fd00:5:0::B'}}"), refused('lab manifest: nodes.b.mgmt-ipv6: "fd00:5:0::B" is also the management address of node a'));
  assert.throws(() => withAddr("{a: {mgmt-ipv6: 'fd00:6::2'}}"), refused('lab manifest: nodes.a.mgmt-ipv6: "fd00:6::2" is not inside mgmt.ipv6-subnet fd00:5::/64'));
  assert.throws(() => withAddr("{a: {mgmt-ipv6: 'fd00:5::1'}}"), /nodes\.a\.mgmt-ipv6: "fd00:5::1" is the gateway of mgmt\.ipv6-subnet fd00:5::\/64/);
  assert.throws(() => plan(lab("{a: {mgmt-ipv4: 172.31.5.11}}")), refused('lab manifest: nodes.a.mgmt-ipv4: "172.31.5.11" needs mgmt.ipv4-subnet (without it the subnet is chosen at deploy time)'));
  assert.throws(() => withAddr("{a: {mgmt-ipv6: 'fd00::2'}}", "{ipv4-subnet: 10.0.0.0/24}"), /nodes\.a\.mgmt-ipv6: "fd00::2" needs mgmt\.ipv6-subnet/);
});

test("lab plan: node settings checked against the model and the image grammar", () => {
  assert.throws(() => plan(lab("{a: {model: junos}}")), refused('lab manifest: nodes.a.model: unknown model "junos" (known models: ceos, frr, linux, srlinux)'));
  assert.throws(() => plan(`name: t\ndefaults: {model: junos}\nnodes: {a: {}}\n`), refused('lab manifest: defaults.model: unknown model "junos" (known models: ceos, frr, linux, srlinux)'));
  assert.throws(() => plan(lab("{a: {startup-config: a.cfg}}")), refused('lab manifest: nodes.a.startup-config: model linux has no startup-config location; inject "a.cfg" with files and a destination'));
  assert.throws(() => plan(lab("{a: {cap-add: [NET_ADMIN, FLY]}}")), refused('lab manifest: nodes.a.cap-add[1]: unknown capability "FLY"'));
  assert.throws(() => plan(`name: t\ndefaults: {cap-add: [nope]}\nnodes: {a: {}}\n`), refused('lab manifest: defaults.cap-add[0]: unknown capability "nope"'));
  assert.throws(() => plan(lab("{a: {image: Busybox}}")), refused('lab manifest: nodes.a.image: invalid image reference "Busybox": repository name must be lowercase'));
  assert.throws(() => plan(`name: t\ndefaults: {image: "a:b:c"}\nnodes: {a: {}}\n`), /lab manifest: defaults\.image: invalid image reference "a:b:c"/);
});

test("lab plan: relative paths resolve against the manifest's folder, absolute ones stay", () => {
  const n = nodeOf(plan(lab("{a: {files: [{source: ../shared/x, destination: /x}, {source: /etc/hosts, destination: /y}], binds: ['./d:/d', '/srv/e:/e:ro']}}")), "a");
  assert.deepEqual(n.files.map((f) => f.source), ["/labs/shared/x", "/etc/hosts"]);
  assert.deepEqual(n.binds, ["/labs/tri/d:/d", "/srv/e:/e:ro"]);
});

test("lab plan: a manifest built in code is checked the same way", () => {
  const base: LabManifest = { name: "t", mgmt: {}, defaults: {}, nodes: { a: {} }, links: [], bridges: [], baseDir: "/x" };
  assert.throws(() => planLab({ ...base, name: "T_1" }), refused('lab manifest: name: invalid lab name "T_1": 1 to 32 characters of a-z, 0-9 and -, starting with a letter or digit'));
  assert.throws(() => planLab({ ...base, nodes: {} }), refused("lab manifest: nodes: a lab needs at least one node"));
  assert.throws(() => planLab({ ...base, nodes: { A: {} } }), /nodes\.A: invalid node name "A"/);
  assert.throws(() => planLab({ ...base, defaults: { mgmtIpv4: "10.0.0.2" } }), refused("lab manifest: defaults.mgmt-ipv4: a static management address belongs to one node, not to defaults"));
  assert.throws(() => planLab({ ...base, file: "t.yml", links: [{ endpoints: [{ node: "a", interface: "eth1" }, { node: "b", interface: "eth1" }] }] }), refused('lab manifest t.yml: links[0].endpoints[1]: unknown node "b" in "b:eth1"'));
});
