/**
 * planLab: a validated manifest -> everything the executor needs, or one error naming the field. Pure: no
 * host facts (subnet overlaps with host routes, image presence, file existence are the executor's), so a
 * bad manifest is refused before anything is created.
 */
import type { LabManifest } from "./manifest.js";
import { failFor, show, type Fail } from "./manifest-error.js";
import { BRIDGE_NAME_RE, LAB_NAME_RE, MAX_LAB_NAME, NODE_NAME_RE } from "./manifest-values.js";
import { MODELS } from "./models.js";
import { planMgmt, staticAddresses } from "./plan-mgmt.js";
import { interfacesOf, planConnections } from "./plan-links.js";
import { planNode, type NodeDraft } from "./plan-node.js";
import type { LabModel, LabPlan, NodePlan } from "./types.js";

export interface PlanOptions {
  /** Models nodes may name; the built-ins when not given (pass `{ ...MODELS, mine }` to add one). */
  models?: Readonly<Record<string, LabModel>>;
}

export function planLab(manifest: LabManifest, opts: PlanOptions = {}): LabPlan {
  const fail = failFor(manifest.file);
  checkNames(manifest, fail);
  const mgmt = planMgmt(manifest, fail);
  const drafts = new Map<string, NodeDraft>();
  for (const name of Object.keys(manifest.nodes)) drafts.set(name, planNode(manifest, name, opts.models ?? MODELS, fail));
  const addresses = staticAddresses(manifest, mgmt, fail);
  const conns = planConnections(manifest, drafts, fail);
  const nodes: NodePlan[] = [...drafts.values()].map((d) => ({
    ...d.plan,
    ...addresses.get(d.plan.name),
    interfaces: interfacesOf(d, conns.peers.get(d.plan.name)!),
  }));
  checkDevices(mgmt.bridge, conns.bridges, fail);
  return { name: manifest.name, baseDir: manifest.baseDir, mgmt, nodes: nodes.map(orderNode), links: conns.links, bridges: conns.bridges };
}

/** The parser checks names too; a manifest built in code reaches the planner without it. */
function checkNames(m: LabManifest, fail: Fail): void {
  if (!LAB_NAME_RE.test(m.name) || m.name.length > MAX_LAB_NAME) fail("name", `invalid lab name ${show(m.name)}: 1 to ${MAX_LAB_NAME} characters of a-z, 0-9 and -, starting with a letter or digit`);
  if (Object.keys(m.nodes).length === 0) fail("nodes", "a lab needs at least one node");
  for (const n of Object.keys(m.nodes)) if (!NODE_NAME_RE.test(n)) fail(["nodes", n], `invalid node name ${show(n)}: a-z, 0-9 and -, starting with a letter or digit`);
  m.bridges.forEach((b, i) => {
    if (!BRIDGE_NAME_RE.test(b.name)) fail(["bridges", i, "name"], `invalid bridge name ${show(b.name)}`);
  });
}

/** Hash prefixes make a clash practically impossible; if one happens, say so instead of sharing a bridge. */
function checkDevices(mgmtBridge: string, bridges: LabPlan["bridges"], fail: Fail): void {
  const seen = new Map<string, string>([[mgmtBridge, "the management bridge"]]);
  bridges.forEach((b, i) => {
    const other = seen.get(b.device);
    if (other) fail(["bridges", i, "name"], `bridge ${show(b.name)} would use host device ${b.device}, as ${other} does; rename it`);
    seen.set(b.device, `bridge ${show(b.name)}`);
  });
}

/** Stable key order (identity, then image and resources, then wiring) so JSON of a plan reads well and diffs cleanly. */
function orderNode(n: NodePlan): NodePlan {
  const { name, container, model, image, mgmtInterface, mgmtIpv4, mgmtIpv6, interfaces, ...rest } = n;
  return {
    name,
    container,
    model,
    image,
    mgmtInterface,
    ...(mgmtIpv4 !== undefined ? { mgmtIpv4 } : {}),
    ...(mgmtIpv6 !== undefined ? { mgmtIpv6 } : {}),
    ...rest,
    interfaces,
  };
}
