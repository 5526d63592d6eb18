/**
 * Links and shared segments: endpoints resolved to in-node interface names, each data interface wired at
 * most once, and every node's interface list with the far end of each port.
 */
import type { EndpointSpec, LabManifest } from "./manifest.js";
import { formatPath, show, type Fail, type FieldPath } from "./manifest-error.js";
import { interfaceName, resolveInterface, spellings } from "./interfaces.js";
import { segmentBridgeName } from "./names.js";
import type { NodeDraft } from "./plan-node.js";
import type { InterfacePeer, LinkEndpoint, PlannedBridge, PlannedInterface, PlannedLink } from "./types.js";

/** Jumbo frames by default: labs carry encapsulations (VXLAN, MPLS) whose overhead must not fragment. */
export const DEFAULT_MTU = 9500;
const MIN_MTU = 68; // the IPv4 minimum (RFC 791)
const MAX_MTU = 65535;

interface Resolved extends LinkEndpoint {
  index: number;
  /** As the manifest spelled it: "r1:ethernet-1/1". */
  text: string;
}

interface Connections {
  links: PlannedLink[];
  bridges: PlannedBridge[];
  /** node -> data interface index -> far end. */
  peers: Map<string, Map<number, InterfacePeer>>;
}

export function planConnections(m: LabManifest, nodes: ReadonlyMap<string, NodeDraft>, fail: Fail): Connections {
  const w: Connections = { links: [], bridges: [], peers: new Map([...nodes.keys()].map((n) => [n, new Map()])) };
  const used = new Map<string, { path: FieldPath; text: string }>();
  const claim = (e: Resolved, path: FieldPath) => {
    const key = `${e.node}\0${e.index}`;
    const prev = used.get(key);
    if (prev) fail(path, `${show(e.text)} is already used by ${formatPath(prev.path)}${prev.text === e.text ? "" : ` (as ${show(prev.text)})`}`);
    used.set(key, { path, text: e.text });
  };
  m.links.forEach((link, i) => w.links.push(planLink(link.endpoints, link.mtu, i, nodes, w, claim, fail)));
  const names = new Map<string, number>();
  m.bridges.forEach((b, i) => {
    const first = names.get(b.name);
    if (first !== undefined) fail(["bridges", i, "name"], `duplicate bridge name ${show(b.name)} (also bridges[${first}])`);
    names.set(b.name, i);
    w.bridges.push(planBridge(m.name, b, i, nodes, w, claim, fail));
  });
  return w;
}

type Claim = (e: Resolved, path: FieldPath) => void;

function planLink(ends: readonly EndpointSpec[], mtuIn: number | undefined, i: number, nodes: ReadonlyMap<string, NodeDraft>, w: Connections, claim: Claim, fail: Fail): PlannedLink {
  const [a, b] = ends.map((e, j) => resolveEndpoint(e, ["links", i, "endpoints", j], nodes, fail)) as [Resolved, Resolved];
  if (a.node === b.node && a.index === b.index) fail(["links", i], `both endpoints are the same interface (${show(a.text)} and ${show(b.text)})`);
  claim(a, ["links", i, "endpoints", 0]);
  claim(b, ["links", i, "endpoints", 1]);
  w.peers.get(a.node)!.set(a.index, { kind: "link", link: i, node: b.node, interface: b.interface });
  w.peers.get(b.node)!.set(b.index, { kind: "link", link: i, node: a.node, interface: a.interface });
  return { endpoints: [bare(a), bare(b)], mtu: mtuOf(mtuIn, ["links", i, "mtu"], fail) };
}

function planBridge(
  lab: string,
  spec: { name: string; endpoints: readonly EndpointSpec[]; mtu?: number },
  i: number,
  nodes: ReadonlyMap<string, NodeDraft>,
  w: Connections,
  claim: Claim,
  fail: Fail,
): PlannedBridge {
  const endpoints = spec.endpoints.map((e, j) => {
    const path = ["bridges", i, "endpoints", j];
    const r = resolveEndpoint(e, path, nodes, fail);
    claim(r, path);
    w.peers.get(r.node)!.set(r.index, { kind: "bridge", bridge: spec.name });
    return bare(r);
  });
  return { name: spec.name, device: segmentBridgeName(lab, spec.name), mtu: mtuOf(spec.mtu, ["bridges", i, "mtu"], fail), endpoints };
}

function resolveEndpoint(e: EndpointSpec, path: FieldPath, nodes: ReadonlyMap<string, NodeDraft>, fail: Fail): Resolved {
  const text = `${e.node}:${e.interface}`;
  const draft = nodes.get(e.node);
  if (!draft) return fail(path, `unknown node ${show(e.node)} in ${show(text)}`);
  const { model } = draft;
  const r = resolveInterface(model, e.interface);
  if (r.kind === "mgmt") return fail(path, `${show(text)} is the management interface of ${e.node}; data links use ${spellings(model.interfaces)} from 1`);
  if (r.kind === "unknown") return fail(path, `${show(text)}: model ${model.name} names data interfaces ${spellings(model.interfaces)}`);
  if (r.index === 0) return fail(path, `${show(text)}: data interfaces are numbered from 1`);
  if (r.index > model.maxDataInterfaces) return fail(path, `${show(text)}: model ${model.name} has at most ${model.maxDataInterfaces} data interfaces`);
  return { node: e.node, interface: r.name, index: r.index, text };
}

const bare = (r: Resolved): LinkEndpoint => ({ node: r.node, interface: r.interface });

function mtuOf(mtu: number | undefined, path: FieldPath, fail: Fail): number {
  if (mtu === undefined) return DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) fail(path, `invalid MTU ${show(mtu)}: expected ${MIN_MTU} to ${MAX_MTU}`);
  return mtu;
}

/** Data interfaces 1..N, N the larger of the node's count and the highest index wired; unwired ones have peer none. */
export function interfacesOf(draft: NodeDraft, peers: ReadonlyMap<number, InterfacePeer>): PlannedInterface[] {
  const n = Math.max(draft.dataInterfaces, ...peers.keys());
  const out: PlannedInterface[] = [];
  for (let i = 1; i <= n; i++) out.push({ name: interfaceName(draft.model.interfaces, i), index: i, peer: peers.get(i) ?? { kind: "none" } });
  return out;
}
