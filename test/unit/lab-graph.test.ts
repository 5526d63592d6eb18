import assert from "node:assert/strict";
import { test } from "node:test";
import { graph, type GraphFormat } from "../../src/lab/graph.js";
import { parseManifest } from "../../src/lab/manifest.js";
import { planLab } from "../../src/lab/plan.js";
import { berthError } from "../helpers/errors.js";

const PLAN = planLab(
  parseManifest(
    `
name: tri
nodes:
  r1: {model: frr}
  spine-1: {model: srlinux}
  h1: {}
links:
  - endpoints: [r1:eth1, 'spine-1:ethernet-1/1']
bridges:
  - {name: lan, endpoints: [r1:eth2, h1:eth1]}
`,
    { baseDir: "/labs" },
  ),
);

test("lab graph: mermaid draws nodes, links labelled with both interfaces, and segments as nodes", () => {
  assert.equal(
    graph(PLAN, "mermaid"),
    [
      "graph LR",
      '  n_r1["r1 (frr)"]',
      '  n_spine_1["spine-1 (srlinux)"]',
      '  n_h1["h1 (linux)"]',
      '  b_lan{{"lan"}}',
      '  n_r1 ---|"eth1 - e1-1"| n_spine_1',
      '  n_r1 ---|"eth2"| b_lan',
      '  n_h1 ---|"eth1"| b_lan',
      "",
    ].join("\n"),
  );
});

test("lab graph: dot puts interface names at each end of an edge", () => {
  assert.equal(
    graph(PLAN, "dot"),
    [
      'graph "tri" {',
      "  node [shape=box];",
      '  n_r1 [label="r1\\nfrr"];',
      '  n_spine_1 [label="spine-1\\nsrlinux"];',
      '  n_h1 [label="h1\\nlinux"];',
      '  b_lan [label="lan", shape=ellipse];',
      '  n_r1 -- n_spine_1 [taillabel="eth1", headlabel="e1-1"];',
      '  n_r1 -- b_lan [taillabel="eth2"];',
      '  n_h1 -- b_lan [taillabel="eth1"];',
      "}",
      "",
    ].join("\n"),
  );
});

test("lab graph: a node and a segment of the same name stay distinct; unwired labs still draw", () => {
  const p = planLab(parseManifest("name: x\nnodes: {lan: {}}\nbridges: [{name: lan, endpoints: [lan:eth1]}]\n", { baseDir: "/" }));
  assert.match(graph(p, "mermaid"), /n_lan\["lan \(linux\)"\]\n {2}b_lan\{\{"lan"\}\}\n {2}n_lan ---\|"eth1"\| b_lan\n$/);
  assert.match(graph(p, "dot"), /n_lan -- b_lan/);
  const lone = planLab(parseManifest("name: x\nnodes: {a: {data-interfaces: 2}}\n", { baseDir: "/" }));
  assert.equal(graph(lone, "mermaid"), 'graph LR\n  n_a["a (linux)"]\n');
  assert.equal(graph(lone, "dot"), 'graph "x" {\n  node [shape=box];\n  n_a [label="a\\nlinux"];\n}\n');
});

test("lab graph: an unknown format is refused", () => {
  assert.throws(() => graph(PLAN, "svg" as GraphFormat), berthError("INVALID_ARGUMENT", /^unknown graph format "svg": use mermaid or dot$/));
});
