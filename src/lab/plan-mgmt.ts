/**
 * The lab's management network: optional fixed subnets and optional static node addresses. Whether a
 * subnet overlaps a host route is a fact of the host, so the executor checks that; here only what the
 * manifest alone decides.
 */
import { BerthError } from "../core/errors.js";
import { broadcast, contains, familyName, firstHost, formatCidr, formatIp, lastHost, networkReserved, parseCidr, parseIpOf, type Cidr, type Family } from "../core/net/index.js";
import type { LabManifest, NodeSpec } from "./manifest.js";
import { show, type Fail } from "./manifest-error.js";
import { mgmtBridgeName, mgmtNetworkName } from "./names.js";
import type { LabPlan } from "./types.js";

const KEY = { 4: "ipv4-subnet", 6: "ipv6-subnet" } as const;
const NODE_KEY = { 4: "mgmt-ipv4", 6: "mgmt-ipv6" } as const;

export function planMgmt(m: LabManifest, fail: Fail): LabPlan["mgmt"] {
  const nodeCount = Object.keys(m.nodes).length;
  const v4 = m.mgmt.ipv4Subnet === undefined ? undefined : subnetOf(4, m.mgmt.ipv4Subnet, nodeCount, fail);
  const v6 = m.mgmt.ipv6Subnet === undefined ? undefined : subnetOf(6, m.mgmt.ipv6Subnet, nodeCount, fail);
  return {
    network: mgmtNetworkName(m.name),
    bridge: mgmtBridgeName(m.name),
    ...(v4 ? { ipv4Subnet: formatCidr(v4) } : {}),
    ...(v6 ? { ipv6Subnet: formatCidr(v6) } : {}),
  };
}

function subnetOf(family: Family, text: string, nodeCount: number, fail: Fail): Cidr {
  const path = ["mgmt", KEY[family]];
  let c: Cidr;
  try {
    c = parseCidr(text);
  } catch (e) {
    return fail(path, messageOf(e));
  }
  if (c.family !== family) fail(path, `expected an ${familyName(family)} subnet, got ${show(text)}`);
  const room = lastHost(c) - firstHost(c); // the first host is the gateway
  if (room < BigInt(nodeCount)) fail(path, `${show(text)} has room for ${room} node address${room === 1n ? "" : "es"}, the lab has ${nodeCount} nodes`);
  return c;
}

/**
 * Static addresses, canonical, by node. Each must name a subnet the manifest fixed (an automatic subnet
 * is chosen at deploy time, so no address can be promised inside it), fit inside it, and not be its
 * network, broadcast or gateway (first host, the host's side of the bridge) address, nor another node's.
 */
export function staticAddresses(m: LabManifest, mgmt: LabPlan["mgmt"], fail: Fail): Map<string, { mgmtIpv4?: string; mgmtIpv6?: string }> {
  refuseDefaultAddresses(m.defaults, fail);
  const out = new Map<string, { mgmtIpv4?: string; mgmtIpv6?: string }>();
  const taken = new Map<string, string>();
  for (const [name, spec] of Object.entries(m.nodes)) {
    const v4 = staticAddress(4, name, spec.mgmtIpv4, mgmt.ipv4Subnet, taken, fail);
    const v6 = staticAddress(6, name, spec.mgmtIpv6, mgmt.ipv6Subnet, taken, fail);
    out.set(name, { ...(v4 ? { mgmtIpv4: v4 } : {}), ...(v6 ? { mgmtIpv6: v6 } : {}) });
  }
  return out;
}

function refuseDefaultAddresses(d: NodeSpec, fail: Fail): void {
  for (const f of [4, 6] as const) {
    if (d[f === 4 ? "mgmtIpv4" : "mgmtIpv6"] !== undefined) fail(["defaults", NODE_KEY[f]], "a static management address belongs to one node, not to defaults");
  }
}

function staticAddress(family: Family, node: string, text: string | undefined, subnetText: string | undefined, taken: Map<string, string>, fail: Fail): string | undefined {
  if (text === undefined) return undefined;
  const path = ["nodes", node, NODE_KEY[family]];
  if (subnetText === undefined) fail(path, `${show(text)} needs mgmt.${KEY[family]} (without it the subnet is chosen at deploy time)`);
  let a: bigint;
  try {
    a = parseIpOf(family, text, "address");
  } catch (e) {
    return fail(path, messageOf(e));
  }
  const c = parseCidr(subnetText!);
  const where = `mgmt.${KEY[family]} ${formatCidr(c)}`;
  if (!contains(c, a)) fail(path, `${show(text)} is not inside ${where}`);
  if (networkReserved(c) && a === c.network) fail(path, `${show(text)} is the network address of ${where}`);
  if (a === broadcast(c)) fail(path, `${show(text)} is the broadcast address of ${where}`);
  if (a === firstHost(c)) fail(path, `${show(text)} is the gateway of ${where} (the host's address on the management bridge)`);
  const canonical = formatIp(family, a);
  const holder = taken.get(canonical);
  if (holder) fail(path, `${show(text)} is also the management address of node ${holder}`);
  taken.set(canonical, node);
  return canonical;
}

const messageOf = (e: unknown): string => (e instanceof BerthError ? e.message : String(e));
