/**
 * A lab's topology as Mermaid or Graphviz DOT text: nodes, point-to-point links labelled with the
 * interface names at each end, and shared segments drawn as nodes of their own.
 */
import { invalid } from "../core/errors.js";
import type { LabPlan } from "./types.js";

export type GraphFormat = "mermaid" | "dot";

/**
 * Node and bridge names are [a-z0-9-], so "-" -> "_" with a kind prefix gives identifiers both formats
 * accept unquoted, distinct even when a node and a bridge share a name.
 */
const nodeId = (name: string) => `n_${name.replace(/-/g, "_")}`;
const bridgeId = (name: string) => `b_${name.replace(/-/g, "_")}`;

export function graph(plan: LabPlan, format: GraphFormat): string {
  if (format === "mermaid") return mermaid(plan);
  if (format === "dot") return dot(plan);
  throw invalid(`unknown graph format "${String(format)}": use mermaid or dot`);
}

/** Mermaid renders labels as HTML: quotes and angle brackets must be entities. */
const mq = (s: string) => `"${s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;")}"`;

function mermaid(plan: LabPlan): string {
  const lines = ["graph LR"];
  for (const n of plan.nodes) lines.push(`  ${nodeId(n.name)}[${mq(`${n.name} (${n.model})`)}]`);
  for (const b of plan.bridges) lines.push(`  ${bridgeId(b.name)}{{${mq(b.name)}}}`);
  for (const l of plan.links) {
    const [a, z] = l.endpoints;
    lines.push(`  ${nodeId(a.node)} ---|${mq(`${a.interface} - ${z.interface}`)}| ${nodeId(z.node)}`);
  }
  for (const b of plan.bridges) for (const e of b.endpoints) lines.push(`  ${nodeId(e.node)} ---|${mq(e.interface)}| ${bridgeId(b.name)}`);
  return lines.join("\n") + "\n";
}

const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
const dq = (s: string) => `"${esc(s)}"`;

function dot(plan: LabPlan): string {
  const lines = [`graph ${dq(plan.name)} {`, "  node [shape=box];"];
  for (const n of plan.nodes) lines.push(`  ${nodeId(n.name)} [label="${esc(n.name)}\\n${esc(n.model)}"];`);
  for (const b of plan.bridges) lines.push(`  ${bridgeId(b.name)} [label=${dq(b.name)}, shape=ellipse];`);
  for (const l of plan.links) {
    const [a, z] = l.endpoints;
    lines.push(`  ${nodeId(a.node)} -- ${nodeId(z.node)} [taillabel=${dq(a.interface)}, headlabel=${dq(z.interface)}];`);
  }
  for (const b of plan.bridges) for (const e of b.endpoints) lines.push(`  ${nodeId(e.node)} -- ${bridgeId(b.name)} [taillabel=${dq(e.interface)}];`);
  lines.push("}");
  return lines.join("\n") + "\n";
}
