import assert from "node:assert/strict";
import { test } from "node:test";
import { parseManifest } from "../../src/lab/manifest.js";
import { formatPath, show } from "../../src/lab/manifest-error.js";
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
    cmd: [/usr/lib/frr/docker-start]
    shm-size: 64M
    sysctls: {net.ipv4.conf.all.rp_filter: 0}
    cap-add: [net_admin]
    files:
      - {source: r1/frr.conf, destination: /etc/frr/frr.conf, owner: frr, group: frr, mode: "0640"}
    startup-config: r1/frr.conf
    binds: ["data:/data"]
    exec: ["ip addr add 10.0.12.1/30 dev eth1"]
  r2: {model: frr, image: 127.0.0.1:5000/frr:1}
  h1: {}
links:
  - endpoints: [r1:eth1, r2:eth1]
    mtu: 9500
  - endpoints: [r1:eth2, r2:eth2]
bridges:
  - {name: lan, endpoints: [r1:eth3, r2:eth3, h1:eth1]}
`;

const parse = (text: string, file?: string) => parseManifest(text, { baseDir: "/labs/tri", ...(file ? { file } : {}) });
/** An assert.throws validator: INVALID_ARGUMENT with exactly this one-line message. */
const refused = (message: string) =>
  berthError("INVALID_ARGUMENT", new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
const nodeWith = (yaml: string) => `name: x\nnodes:\n  r1: ${yaml}\n`;

test("lab manifest: the issue's example parses into typed, normalised values", () => {
  const m = parse(TRI);
  assert.equal(m.name, "tri");
  assert.deepEqual(m.mgmt, { ipv4Subnet: "172.31.5.0/24", ipv6Subnet: "fd00:b00b:5::/64" });
  assert.deepEqual(m.defaults, { model: "linux" });
  assert.deepEqual(Object.keys(m.nodes), ["r1", "r2", "h1"]);
  assert.deepEqual(m.nodes.r1, {
    model: "frr",
    image: "127.0.0.1:5000/frr:1",
    mgmtIpv4: "172.31.5.11",
    cpus: 1,
    memory: 256 * 1024 * 1024,
    dataInterfaces: 4,
    privileged: false,
    env: { KEY: "value" },
    cmd: ["/usr/lib/frr/docker-start"],
    shmSize: 64 * 1024 * 1024,
    sysctls: { "net.ipv4.conf.all.rp_filter": "0" },
    capAdd: ["net_admin"],
    files: [{ source: "r1/frr.conf", destination: "/etc/frr/frr.conf", owner: "frr", group: "frr", mode: 0o640 }],
    startupConfig: "r1/frr.conf",
    binds: ["data:/data"],
    exec: ["ip addr add 10.0.12.1/30 dev eth1"],
  });
  assert.deepEqual(m.nodes.h1, {});
  assert.deepEqual(m.links, [
    { endpoints: [{ node: "r1", interface: "eth1" }, { node: "r2", interface: "eth1" }], mtu: 9500 },
    { endpoints: [{ node: "r1", interface: "eth2" }, { node: "r2", interface: "eth2" }] },
  ]);
  assert.deepEqual(m.bridges, [{ name: "lan", endpoints: [{ node: "r1", interface: "eth3" }, { node: "r2", interface: "eth3" }, { node: "h1", interface: "eth1" }] }]);
  assert.equal(m.baseDir, "/labs/tri");
  assert.equal(m.file, undefined);
});

test("lab manifest: optional sections default to empty, baseDir is made absolute", () => {
  const m = parseManifest("name: a\nnodes: {h1: {}}\n", { baseDir: "rel/dir" });
  assert.deepEqual(m.mgmt, {});
  assert.deepEqual(m.defaults, {});
  assert.deepEqual(m.links, []);
  assert.deepEqual(m.bridges, []);
  assert.equal(m.baseDir, `${process.cwd()}/rel/dir`);
});

test("lab manifest: sizes in bytes or with binary units, whatever the spelling", () => {
  const cases: [string, number][] = [
    ["256MiB", 256 * 2 ** 20],
    ["1GiB", 2 ** 30],
    ["512M", 512 * 2 ** 20],
    ["512m", 512 * 2 ** 20],
    ["1GB", 2 ** 30],
    ["1.5g", 1.5 * 2 ** 30],
    ["10485760", 10485760],
    ["8388608b", 8388608],
    ["64 MiB", 64 * 2 ** 20],
  ];
  for (const [text, bytes] of cases) assert.equal(parse(nodeWith(`{memory: "${text}"}`)).nodes.r1!.memory, bytes, text);
  assert.equal(parse(nodeWith("{memory: 10485760}")).nodes.r1!.memory, 10485760);
  assert.equal(parse(nodeWith("{shm-size: 1k}")).nodes.r1!.shmSize, 1024);
});

test("lab manifest: a bad size names the field path and the value", () => {
  assert.throws(() => parse(nodeWith("{memory: 12XB}")), refused('lab manifest: nodes.r1.memory: invalid size "12XB": expected bytes or a size such as 256MiB, 1GiB or 512M'));
  for (const bad of ["0", "-1", "1.5", "\"\"", "1KiBB", "[1]", "1e99"]) {
    assert.throws(() => parse(nodeWith(`{memory: ${bad}}`)), berthError("INVALID_ARGUMENT", /^lab manifest: nodes\.r1\.memory: invalid size /), bad);
  }
  assert.throws(() => parse(nodeWith("{memory: 1MiB}")), refused('lab manifest: nodes.r1.memory: invalid size "1MiB": the minimum is 6MiB'));
  assert.throws(() => parse(nodeWith("{shm-size: lots}")), refused('lab manifest: nodes.r1.shm-size: invalid size "lots": expected bytes or a size such as 256MiB, 1GiB or 512M'));
});

test("lab manifest: file modes are quoted octal strings; a YAML number is refused with the reason", () => {
  const modeOf = (m: string) => parse(nodeWith(`{files: [{source: a, destination: /a, mode: ${m}}]}`)).nodes.r1!.files![0]!.mode;
  assert.equal(modeOf('"0640"'), 0o640);
  assert.equal(modeOf('"640"'), 0o640);
  assert.equal(modeOf('"0o755"'), 0o755);
  assert.equal(modeOf('"4755"'), 0o4755);
  assert.throws(() => modeOf("0640"), refused('lab manifest: nodes.r1.files[0].mode: invalid mode 640: quote the octal mode, as in "0640" (YAML reads an unquoted 0640 as the decimal number 640)'));
  assert.throws(() => modeOf('"0999"'), refused('lab manifest: nodes.r1.files[0].mode: invalid mode "0999": expected an octal mode such as "0640"'));
  assert.throws(() => modeOf('"rw-r-----"'), /nodes\.r1\.files\[0\]\.mode: invalid mode "rw-r-----"/);
});

test("lab manifest: files need a source and an absolute destination without ..; owners may be ids", () => {
  const f = parse(nodeWith("{files: [{source: a, destination: /etc/a, owner: 0, group: 101}]}")).nodes.r1!.files![0];
  assert.deepEqual(f, { source: "a", destination: "/etc/a", owner: "0", group: "101" });
  assert.throws(() => parse(nodeWith("{files: [{destination: /a}]}")), refused("lab manifest: nodes.r1.files[0].source: missing (this field is required)"));
  assert.throws(() => parse(nodeWith("{files: [{source: a, destination: etc/a}]}")), refused('lab manifest: nodes.r1.files[0].destination: invalid container path "etc/a": it must be absolute'));
  assert.throws(() => parse(nodeWith("{files: [{source: a, destination: /etc/../a}]}")), refused('lab manifest: nodes.r1.files[0].destination: invalid container path "/etc/../a": ".." is not allowed'));
  assert.throws(() => parse(nodeWith("{files: [{source: a, destination: /}]}")), /destination: invalid container path "\/": it cannot be "\/"/);
  assert.throws(() => parse(nodeWith("{files: [{source: a, destination: /a, owner: -1}]}")), refused("lab manifest: nodes.r1.files[0].owner: expected a name or a numeric id, got -1"));
  assert.throws(() => parse(nodeWith("{files: [{source: a, destination: /a, perms: x}]}")), refused('lab manifest: nodes.r1.files[0].perms: unknown key; known keys: source, destination, owner, group, mode'));
  assert.throws(() => parse(nodeWith("{files: {source: a}}")), refused('lab manifest: nodes.r1.files: expected a list, got {"source":"a"}'));
});

test("lab manifest: unknown keys are refused with the closest known key", () => {
  assert.throws(() => parse(nodeWith("{memroy: 1GiB}")), refused('lab manifest: nodes.r1.memroy: unknown key; did you mean "memory"?'));
  assert.throws(() => parse(nodeWith("{startup_config: a}")), refused('lab manifest: nodes.r1.startup_config: unknown key; did you mean "startup-config"?'));
  assert.throws(() => parse("name: x\nnodes: {h1: {}}\nlinks: [{endpoints: [h1:eth1, h1:eth2], mut: 1500}]\n"), refused('lab manifest: links[0].mut: unknown key; did you mean "mtu"?'));
  assert.throws(() => parse("name: x\ntopology: {}\nnodes: {h1: {}}\n"), refused("lab manifest: topology: unknown key; known keys: name, mgmt, defaults, nodes, links, bridges"));
  assert.throws(() => parse("name: x\nmgmt: {ipv4_subnet: 10.0.0.0/24}\nnodes: {h1: {}}\n"), refused('lab manifest: mgmt.ipv4_subnet: unknown key; did you mean "ipv4-subnet"?'));
  assert.throws(() => parse("name: x\ndefaults: {imgae: a}\nnodes: {h1: {}}\n"), refused('lab manifest: defaults.imgae: unknown key; did you mean "image"?'));
});

test("lab manifest: wrong types name the path and the value", () => {
  assert.throws(() => parse(nodeWith("{cpus: two}")), refused('lab manifest: nodes.r1.cpus: expected a number above 0, got "two"'));
  assert.throws(() => parse(nodeWith("{cpus: 0}")), refused("lab manifest: nodes.r1.cpus: expected a number above 0, got 0"));
  assert.throws(() => parse(nodeWith("{privileged: yes}")), refused('lab manifest: nodes.r1.privileged: expected true or false, got "yes"'));
  assert.throws(() => parse(nodeWith("{data-interfaces: 2.5}")), refused("lab manifest: nodes.r1.data-interfaces: expected a whole number, got 2.5"));
  assert.throws(() => parse(nodeWith("{data-interfaces: -1}")), refused("lab manifest: nodes.r1.data-interfaces: expected at least 0, got -1"));
  assert.throws(() => parse(nodeWith("{cmd: sleep 1}")), refused('lab manifest: nodes.r1.cmd: expected a list, got "sleep 1"'));
  assert.throws(() => parse(nodeWith("{cmd: [sleep, 1]}")), refused("lab manifest: nodes.r1.cmd[1]: expected a string, got 1"));
  assert.throws(() => parse(nodeWith("{exec: ['']}")), refused('lab manifest: nodes.r1.exec[0]: must not be empty, got ""'));
  assert.throws(() => parse(nodeWith("{image: 5}")), refused("lab manifest: nodes.r1.image: expected a string, got 5"));
  assert.throws(() => parse(nodeWith("{env: {A: {b: 1}}}")), refused('lab manifest: nodes.r1.env.A: expected a string, number or boolean, got {"b":1}'));
  assert.throws(() => parse(nodeWith("{env: [NOVALUE]}")), refused('lab manifest: nodes.r1.env[0]: expected KEY=value, got "NOVALUE"'));
  assert.throws(() => parse(nodeWith("{sysctls: {'net ipv4': 1}}")), refused('lab manifest: nodes.r1.sysctls["net ipv4"]: invalid key "net ipv4": expected a sysctl name such as net.ipv4.ip_forward'));
  assert.throws(() => parse("name: x\nnodes: {r1: 5}\n"), refused("lab manifest: nodes.r1: expected a mapping, got 5"));
  assert.throws(() => parse("name: x\nnodes: {r1: }\n"), refused("lab manifest: nodes.r1: expected a mapping, got null"));
  assert.throws(() => parse("- a\n- b\n"), refused('lab manifest: expected a mapping, got ["a","b"]'));
});

test("lab manifest: env and sysctls accept a mapping or KEY=value items; scalars become text", () => {
  const n = parse(nodeWith("{env: {A: 1, B: true, C: x=y}, sysctls: [net.ipv4.ip_forward=1]}")).nodes.r1!;
  assert.deepEqual(n.env, { A: "1", B: "true", C: "x=y" });
  assert.deepEqual(n.sysctls, { "net.ipv4.ip_forward": "1" });
  assert.deepEqual(parse(nodeWith("{env: [A=1, B=]}")).nodes.r1!.env, { A: "1", B: "" });
});

test("lab manifest: required fields, empty files, names", () => {
  assert.throws(() => parse("nodes: {h1: {}}\n"), refused("lab manifest: name: missing (this field is required)"));
  assert.throws(() => parse("name: x\n"), refused("lab manifest: nodes: missing (this field is required)"));
  assert.throws(() => parse("name: x\nnodes: {}\n"), refused("lab manifest: nodes: a lab needs at least one node"));
  assert.throws(() => parse(""), refused("lab manifest: the manifest is empty"));
  assert.throws(() => parse("# only a comment\n"), refused("lab manifest: the manifest is empty"));
  assert.throws(() => parse("name: Tri\nnodes: {h1: {}}\n"), refused('lab manifest: name: invalid lab name "Tri": 1 to 32 characters of a-z, 0-9 and -, starting with a letter or digit'));
  assert.throws(() => parse("name: -tri\nnodes: {h1: {}}\n"), /name: invalid lab name "-tri"/);
  assert.throws(() => parse(`name: ${"a".repeat(33)}\nnodes: {h1: {}}\n`), /name: invalid lab name "a{33}": 1 to 32 characters/);
  assert.equal(parse(`name: ${"a".repeat(32)}\nnodes: {h1: {}}\n`).name, "a".repeat(32));
  assert.throws(() => parse("name: x\nnodes: {R1: {}}\n"), refused('lab manifest: nodes.R1: invalid node name "R1": a-z, 0-9 and -, starting with a letter or digit'));
  assert.throws(() => parse("name: x\nnodes: {r_1: {}}\n"), /nodes\.r_1: invalid node name "r_1"/);
  assert.throws(() => parse("name: x\nnodes: {h1: {}}\nbridges: [{name: Lan, endpoints: [h1:eth1]}]\n"), refused('lab manifest: bridges[0].name: invalid bridge name "Lan": 1 to 32 characters of a-z, 0-9 and -, starting with a letter or digit'));
});

test("lab manifest: endpoints are NODE:INTERFACE, links have two, bridges at least one", () => {
  const withLinks = (l: string) => parse(`name: x\nnodes: {h1: {}}\nlinks: ${l}\n`);
  assert.throws(() => withLinks("[{endpoints: [h1:eth1, h1eth2]}]"), refused('lab manifest: links[0].endpoints[1]: invalid endpoint "h1eth2": expected NODE:INTERFACE, as in r1:eth1'));
  assert.throws(() => withLinks("[{endpoints: [h1:eth1, 'h1:']}]"), /links\[0\]\.endpoints\[1\]: invalid endpoint "h1:"/);
  assert.throws(() => withLinks("[{endpoints: [h1:eth1, 'H1:eth1']}]"), refused('lab manifest: links[0].endpoints[1]: invalid endpoint "H1:eth1": "H1" is not a node name'));
  assert.throws(() => withLinks("[{endpoints: [h1:eth1, h1:eth2, h1:eth3]}]"), refused('lab manifest: links[0].endpoints: a link has exactly two endpoints, got ["h1:eth1","h1:eth2","h1:eth3"]'));
  assert.throws(() => withLinks("[{endpoints: [h1:eth1]}]"), /links\[0\]\.endpoints: a link has exactly two endpoints, got \["h1:eth1"\]/);
  assert.throws(() => withLinks("[{mtu: 1500}]"), refused("lab manifest: links[0].endpoints: missing (this field is required)"));
  assert.throws(() => withLinks("[{endpoints: [h1:eth1, h1:eth2], mtu: big}]"), refused('lab manifest: links[0].mtu: expected a whole number, got "big"'));
  assert.throws(() => parse("name: x\nnodes: {h1: {}}\nbridges: [{name: lan, endpoints: []}]\n"), refused("lab manifest: bridges[0].endpoints: a bridge needs at least one endpoint, got []"));
  // SR Linux's long names contain a slash; only the first colon splits.
  assert.deepEqual(parse("name: x\nnodes: {s1: {}}\nlinks: [{endpoints: ['s1:ethernet-1/1', 's1:e1-2']}]\n").links[0]!.endpoints[0], { node: "s1", interface: "ethernet-1/1" });
});

test("lab manifest: binds are HOST:CONTAINER[:OPTIONS]", () => {
  assert.deepEqual(parse(nodeWith('{binds: ["data:/data", "/abs:/x:ro", "a/b:/y:rshared,ro"]}')).nodes.r1!.binds, ["data:/data", "/abs:/x:ro", "a/b:/y:rshared,ro"]);
  assert.throws(() => parse(nodeWith('{binds: ["data"]}')), refused('lab manifest: nodes.r1.binds[0]: invalid bind "data": expected HOST:CONTAINER[:ro], as in data:/data'));
  assert.throws(() => parse(nodeWith('{binds: ["a:b"]}')), refused('lab manifest: nodes.r1.binds[0]: invalid bind "a:b": the container path "b" must be absolute and not "/"'));
  assert.throws(() => parse(nodeWith('{binds: ["a:/b:rx"]}')), refused('lab manifest: nodes.r1.binds[0]: invalid bind "a:/b:rx": unknown option "rx" (expected ro, rw or a propagation such as rshared)'));
});

test("lab manifest: defaults take any node key except static management addresses", () => {
  const m = parse("name: x\ndefaults: {model: frr, memory: 1GiB, env: {A: b}, exec: ['true']}\nnodes: {r1: {}}\n");
  assert.deepEqual(m.defaults, { model: "frr", memory: 2 ** 30, env: { A: "b" }, exec: ["true"] });
  assert.throws(() => parse("name: x\ndefaults: {mgmt-ipv4: 10.0.0.2}\nnodes: {r1: {}}\n"), refused("lab manifest: defaults.mgmt-ipv4: a static management address belongs to one node, not to defaults"));
  assert.throws(() => parse("name: x\ndefaults: {mgmt-ipv6: 'fd00::2'}\nnodes: {r1: {}}\n"), /defaults\.mgmt-ipv6: a static management address belongs to one node/);
});

test("lab manifest: YAML errors say line and column, and name the file when given", () => {
  assert.throws(() => parse("name: x\nnodes: [a\nlinks: []\n"), berthError("INVALID_ARGUMENT", /^lab manifest: line \d+, column \d+: [^\n]+$/));
  assert.throws(() => parse("name: x\nname: y\nnodes: {h1: {}}\n"), refused("lab manifest: line 2, column 1: Map keys must be unique"));
  assert.throws(() => parse("name: x\n  bad: indent\n", "/labs/tri.yml"), berthError("INVALID_ARGUMENT", /^lab manifest \/labs\/tri\.yml: line 1, column 7: Nested mappings are not allowed in compact mappings$/));
  assert.throws(() => parse(nodeWith("{memory: 12XB}"), "tri.yml"), refused('lab manifest tri.yml: nodes.r1.memory: invalid size "12XB": expected bytes or a size such as 256MiB, 1GiB or 512M'));
  assert.equal(parse("name: x\nnodes: {h1: {}}\n", "tri.yml").file, "tri.yml");
});

test("lab manifest: anchors and merge keys share node blocks", () => {
  const text = `
name: x
defaults: &d {model: frr}
nodes:
  r1: {<<: *d, memory: 512M}
  r2: *d
`;
  const parsed = parse(text);
  assert.deepEqual(parsed.nodes.r1, { model: "frr", memory: 512 * 2 ** 20 });
  assert.deepEqual(parsed.nodes.r2, { model: "frr" });
});

test("lab manifest: paths and values are shown on one line", () => {
  assert.equal(formatPath(["links", 0, "endpoints", 1]), "links[0].endpoints[1]");
  assert.equal(formatPath(["nodes", "r1", "sysctls", "net.ipv4.ip_forward"]), 'nodes.r1.sysctls["net.ipv4.ip_forward"]');
  assert.equal(formatPath([]), "");
  assert.equal(show("a\nb"), '"a\\nb"');
  assert.equal(show(undefined), "nothing");
  assert.equal(show("x".repeat(100)).length, 60);
});
