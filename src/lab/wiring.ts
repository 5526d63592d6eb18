/**
 * Wiring planner: a lab plan's data links as `ip -batch` lines. Pure, like network/link-plan.ts.
 *
 * Every node's netns exists before wiring (created with its management interface). All links are then
 * one host batch: each veth is created with both ends already inside their netns, named as the node's OS
 * names them, with the MTU set, so there is no rename and no window where a half-made link sits on the
 * host. `ip link add ... up` brings up the end created first; a peer in another netns cannot be brought
 * up from the host (the kernel answers ENOTCONN), so each node gets a short batch of its own for those.
 */
import { createHash } from "node:crypto";
import { hostVethName, planBridge } from "../network/link-plan.js";
import type { LabPlan, LinkEndpoint } from "./types.js";

export interface WiringInput {
  plan: LabPlan;
  /** Path of a node's netns. */
  netns: (node: string) => string;
  /** The lab's parking netns: the far ends of unconnected data interfaces sit there, admin-down. */
  park: string;
  /** Only the links touching these nodes (redeploy, resume after a reboot); all links when absent. */
  only?: ReadonlySet<string>;
  /** Create the shared-segment bridges (a first deploy); a redeploy finds them in place. */
  createBridges: boolean;
  /**
   * "node/ifname" of interfaces stashed in the parking netns while their node was recreated (stashName):
   * they are moved back instead of created, so the far end (another node's interface, with its
   * addresses) is never deleted.
   */
  stashed?: ReadonlySet<string>;
}

export interface Wiring {
  /** Lines for the parking netns: stashed interfaces moved back into their node's new netns. */
  park: string[];
  host: string[];
  /** Per node: lines for its own netns (peer ends to bring up). Nodes with nothing to do are absent. */
  inside: Map<string, string[]>;
}

/** Host end of a node's port on a shared-segment bridge. */
export function bridgePortName(lab: string, ep: LinkEndpoint): string {
  return hostVethName(`${lab}/${ep.node}`, ep.interface);
}

/** Name of a node's data interface while it waits in the parking netns during a redeploy. */
export function stashName(lab: string, node: string, ifname: string): string {
  return "rd" + createHash("sha256").update(`${lab}\0${node}\0${ifname}`).digest("hex").slice(0, 13);
}

/** Lines, for a node's netns, that move its data interfaces to the parking netns (the first step of a redeploy). */
export function planStash(lab: string, node: { name: string; interfaces: readonly { name: string }[] }, park: string): string[] {
  return node.interfaces.map((i) => `link set dev ${i.name} netns ${park} name ${stashName(lab, node.name, i.name)}`);
}

/** Far end of an unconnected interface, in the parking netns: "pk" + 13 hex = 15 characters. */
export function parkedPeerName(lab: string, node: string, ifname: string): string {
  return "pk" + createHash("sha256").update(`${lab}\0${node}\0${ifname}`).digest("hex").slice(0, 13);
}

export function planWiring(input: WiringInput): Wiring {
  const { plan, netns, park, only } = input;
  const touches = (n: string) => !only || only.has(n);
  const stashed = (ep: LinkEndpoint) => input.stashed?.has(`${ep.node}/${ep.interface}`) ?? false;
  const parkLines: string[] = [];
  const host: string[] = [];
  const inside = new Map<string, string[]>();
  const up = (node: string, ifname: string) => {
    const l = inside.get(node) ?? [];
    l.push(`link set dev ${ifname} up`);
    inside.set(node, l);
  };
  const unstash = (ep: LinkEndpoint) => parkLines.push(`link set dev ${stashName(plan.name, ep.node, ep.interface)} netns ${netns(ep.node)} name ${ep.interface}`);
  for (const link of plan.links) {
    const [a, b] = link.endpoints;
    if (!touches(a.node) && !touches(b.node)) continue;
    if (stashed(a) || stashed(b)) {
      // The pair survived; only the recreated node's ends come back (moving a link brings it down).
      for (const ep of [a, b].filter(stashed)) {
        unstash(ep);
        up(ep.node, ep.interface);
      }
      continue;
    }
    host.push(`link add name ${a.interface} mtu ${link.mtu} netns ${netns(a.node)} up type veth peer name ${b.interface} mtu ${link.mtu} netns ${netns(b.node)}`);
    up(b.node, b.interface);
  }
  for (const br of plan.bridges) {
    if (input.createBridges) host.push(...planBridge({ name: br.device, mtu: br.mtu }, { exists: false }));
    for (const ep of br.endpoints) {
      if (!touches(ep.node)) continue;
      if (stashed(ep)) {
        unstash(ep);
        up(ep.node, ep.interface);
        continue;
      }
      const port = bridgePortName(plan.name, ep);
      host.push(`link add name ${ep.interface} mtu ${br.mtu} netns ${netns(ep.node)} up type veth peer name ${port} mtu ${br.mtu}`);
      host.push(`link set dev ${port} master ${br.device} up`);
    }
  }
  for (const node of plan.nodes) {
    if (!touches(node.name)) continue;
    for (const i of node.interfaces) {
      if (i.peer.kind !== "none") continue;
      const ep = { node: node.name, interface: i.name };
      if (stashed(ep)) unstash(ep);
      else host.push(`link add name ${i.name} netns ${netns(node.name)} type veth peer name ${parkedPeerName(plan.name, node.name, i.name)} netns ${park}`);
    }
  }
  return { park: parkLines, host, inside };
}

/**
 * Lines that remove the shared-segment bridges and their host-side ports. The ports would die with the
 * nodes' netns, but the kernel destroys a released netns later, in the background: deleting them here
 * makes `destroy` leave nothing behind by the time it returns.
 */
export function planUnwiring(plan: LabPlan): string[] {
  return plan.bridges.flatMap((b) => [...b.endpoints.map((ep) => `link delete dev ${bridgePortName(plan.name, ep)}`), `link delete dev ${b.device}`]);
}
