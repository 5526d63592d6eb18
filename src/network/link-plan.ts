/**
 * Link planner: turns a description of bridges and container interfaces into `ip -batch` lines
 * (and the reverse lines for teardown). Pure: no I/O, no root; `apply.ts` runs the lines.
 *
 * A container's link work is at most two `ip -batch` processes: `host` (run in the host netns) and
 * `netns` (run through `nsenter --net=FILE ip -batch -`). The container ends of veth pairs and
 * macvlans are created directly inside the netns (`ip link add ... netns FILE`, iproute2 accepts a
 * path there), already named eth0/eth1/..., so no temporary name and no rename step are needed and a
 * crash between steps cannot leave a half-named interface on the host.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { invalid } from "../core/errors.js";

/** A bridge berth owns: gateway addresses (v4 and/or v6 CIDRs such as "10.88.0.1/16", "fd00::1/64"). */
export interface BridgeSpec {
  name: string;
  mtu?: number;
  addresses?: string[];
  /**
   * Only emitted when set. Some kernels (this project's CI VM among them) are built without bridge
   * VLAN filtering and refuse even `vlan_filtering 0` with EOPNOTSUPP; 0 is the kernel default anyway.
   */
  vlanFiltering?: boolean;
}

/** What the executor observed before planning (the planner never looks at the host itself). */
export interface BridgeObserved {
  exists: boolean;
}

interface InterfaceCommon {
  /** Name inside the netns: eth0, eth1, ... in connect order. */
  ifname: string;
  /** "02:42:0a:58:00:02"; omitted = kernel-random. */
  mac?: string;
  mtu?: number;
  /** CIDRs, v4 and/or v6: "10.88.0.2/16", "fd00::2/64". IPv6 ones are added `nodad`. */
  addresses?: string[];
  /** Default-route gateways (one per family at most, across the whole spec). */
  gateways?: string[];
  promisc?: boolean;
}

export interface VethInterface extends InterfaceCommon {
  kind: "veth";
  /** The bridge the host end is enslaved to. */
  bridge: string;
  /** Host-side name; default hostVethName(spec.key, ifname). */
  hostName?: string;
}

export type MacvlanMode = "bridge" | "passthru" | "private" | "vepa";

export interface MacvlanInterface extends InterfaceCommon {
  kind: "macvlan";
  /** Parent interface in the host netns (a bridge or a veth end works on kernels without dummy). */
  parent: string;
  mode: MacvlanMode;
}

export type InterfaceSpec = VethInterface | MacvlanInterface;

export interface AttachSpec {
  /** Path of the netns file (netns.ts: <runroot>/netns/<name>). */
  netnsPath: string;
  /** Stable key for derived host-side names (the container ID). */
  key: string;
  interfaces: InterfaceSpec[];
  /** Bring `lo` up in the netns (default true; set false for a live connect of a second network). */
  loopback?: boolean;
}

/** Lines for the two `ip -batch` processes. Either list may be empty (then nothing is spawned). */
export interface LinkPlan {
  host: string[];
  netns: string[];
  netnsPath?: string;
}

const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const MODES: readonly MacvlanMode[] = ["bridge", "passthru", "private", "vepa"];

/** Host end of a veth: "vb" + 13 hex characters of sha256(key, ifname) = 15 characters, the kernel's limit. */
export function hostVethName(key: string, ifname: string): string {
  return "vb" + createHash("sha256").update(`${key}\0${ifname}`).digest("hex").slice(0, 13);
}

export function checkIfname(name: string, what = "interface name"): string {
  if (!IFNAME.test(name) || name === "." || name === "..") throw invalid(`invalid ${what} "${name}": 1-15 characters of [A-Za-z0-9_.:-]`);
  return name;
}

/** "10.88.0.2/16" -> 4, "fd00::2/64" -> 6; throws on anything else. */
export function cidrFamily(cidr: string): 4 | 6 {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr);
  const fam = m ? isIP(m[1]!) : 0;
  if (!m || fam === 0 || Number(m[2]) > (fam === 4 ? 32 : 128)) throw invalid(`invalid address "${cidr}": expected ADDRESS/PREFIX`);
  return fam as 4 | 6;
}

function ipFamily(ip: string, what: string): 4 | 6 {
  const fam = isIP(ip);
  if (fam === 0) throw invalid(`invalid ${what} "${ip}"`);
  return fam as 4 | 6;
}

function checkMtu(mtu: number | undefined): void {
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) throw invalid(`invalid MTU ${mtu}: 68-65535`);
}

function checkMac(mac: string | undefined): void {
  if (mac !== undefined && !MAC.test(mac)) throw invalid(`invalid MAC address "${mac}": expected lower-case xx:xx:xx:xx:xx:xx`);
}

/** ip(8) reads a batch line as whitespace-separated words; a path with blanks or quotes would split. */
function checkPath(path: string): string {
  if (!path.startsWith("/") || /[\s"'\\#]/.test(path)) throw invalid(`invalid netns path "${path}": must be absolute, without blanks, quotes, '#' or backslashes`);
  return path;
}

const addrLine = (cidr: string, dev: string, verb: "add" | "replace") =>
  // nodad: the address is usable at once (no 1-2 s of "tentative" during duplicate detection);
  // berth's IPAM already guarantees uniqueness on its networks.
  `address ${verb} ${cidr} dev ${dev}${cidrFamily(cidr) === 6 ? " nodad" : ""}`;

/**
 * Ensure a bridge: create it (when `observed.exists` is false), set MTU and `addrgenmode none` (no
 * kernel link-local address and so no DAD on the bridge), add the gateway addresses with `replace`
 * (idempotent), bring it up. Running the plan twice is harmless when `observed` is re-probed.
 */
export function planBridge(spec: BridgeSpec, observed: BridgeObserved): string[] {
  const br = checkIfname(spec.name, "bridge name");
  checkMtu(spec.mtu);
  const lines: string[] = [];
  if (!observed.exists) {
    const vf = spec.vlanFiltering === undefined ? "" : ` vlan_filtering ${spec.vlanFiltering ? 1 : 0}`;
    lines.push(`link add name ${br} type bridge${vf}`);
  }
  lines.push(`link set dev ${br}${spec.mtu !== undefined ? ` mtu ${spec.mtu}` : ""} addrgenmode none`);
  for (const a of spec.addresses ?? []) lines.push(addrLine(a, br, "replace"));
  lines.push(`link set dev ${br} up`);
  return lines;
}

/** Removing the bridge also removes its addresses and detaches (not deletes) any remaining ports. */
export function planBridgeRemoval(name: string): string[] {
  return [`link delete dev ${checkIfname(name, "bridge name")}`];
}

function validate(spec: AttachSpec): void {
  checkPath(spec.netnsPath);
  if (spec.interfaces.length === 0) throw invalid("attach: no interfaces");
  const names = new Set<string>();
  const hostNames = new Set<string>();
  const gwFamilies = new Set<number>();
  for (const i of spec.interfaces) {
    checkIfname(i.ifname);
    if (names.has(i.ifname)) throw invalid(`attach: interface ${i.ifname} listed twice`);
    names.add(i.ifname);
    checkMac(i.mac);
    checkMtu(i.mtu);
    for (const a of i.addresses ?? []) cidrFamily(a);
    for (const g of i.gateways ?? []) {
      const fam = ipFamily(g, "gateway");
      if (gwFamilies.has(fam)) throw invalid(`attach: more than one IPv${fam} default gateway (${g} on ${i.ifname})`);
      gwFamilies.add(fam);
    }
    if (i.kind === "veth") {
      checkIfname(i.bridge, "bridge name");
      const hn = checkIfname(i.hostName ?? hostVethName(spec.key, i.ifname), "host interface name");
      if (hostNames.has(hn)) throw invalid(`attach: host interface ${hn} used twice`);
      hostNames.add(hn);
    } else if (i.kind === "macvlan") {
      checkIfname(i.parent, "macvlan parent");
      if (!MODES.includes(i.mode)) throw invalid(`invalid macvlan mode "${i.mode}": one of ${MODES.join(", ")}`);
    } else {
      throw invalid(`attach: unknown interface kind "${(i as { kind: string }).kind}"`);
    }
  }
}

/**
 * Attach a container: per interface, the host batch creates the link with its container end already
 * inside the netns (named, MAC and MTU set), and for veths enslaves the host end and brings it up;
 * the netns batch brings `lo` and the interfaces up, adds addresses, then default routes.
 */
export function planAttach(spec: AttachSpec): LinkPlan {
  validate(spec);
  const ns = spec.netnsPath;
  const host: string[] = [];
  const inside: string[] = [];
  if (spec.loopback !== false) inside.push("link set dev lo up");
  const routes: string[] = [];
  for (const i of spec.interfaces) {
    const mtu = i.mtu !== undefined ? ` mtu ${i.mtu}` : "";
    const mac = i.mac !== undefined ? ` address ${i.mac}` : "";
    if (i.kind === "veth") {
      const hn = i.hostName ?? hostVethName(spec.key, i.ifname);
      host.push(`link add name ${hn}${mtu} type veth peer name ${i.ifname}${mac}${mtu} netns ${ns}`);
      host.push(`link set dev ${hn} master ${i.bridge} up`);
    } else {
      host.push(`link add link ${i.parent} name ${i.ifname}${mac}${mtu} netns ${ns} type macvlan mode ${i.mode}`);
    }
    inside.push(`link set dev ${i.ifname}${i.promisc ? " promisc on" : ""} up`);
    for (const a of i.addresses ?? []) inside.push(addrLine(a, i.ifname, "add"));
    // Routes last: an IPv6 gateway is only reachable once the interface is up and its prefix route exists.
    for (const g of i.gateways ?? []) routes.push(`route add default via ${g} dev ${i.ifname}`);
  }
  inside.push(...routes);
  return { host, netns: inside, netnsPath: ns };
}

/**
 * The reverse of planAttach: delete the host end of each veth (its peer dies with it) and each
 * macvlan inside the netns. Deleting the netns itself also destroys everything inside it; this plan
 * is for a live disconnect and for rolling back a half-applied attach.
 */
export function planDetach(spec: AttachSpec): LinkPlan {
  validate(spec);
  const host: string[] = [];
  const inside: string[] = [];
  for (const i of spec.interfaces) {
    if (i.kind === "veth") host.push(`link delete dev ${i.hostName ?? hostVethName(spec.key, i.ifname)}`);
    else inside.push(`link delete dev ${i.ifname}`);
  }
  return { host, netns: inside, netnsPath: spec.netnsPath };
}

/**
 * Undo a partly applied attach. `hostLinesApplied` is how many host lines succeeded (ip -batch stops
 * at the first failure: a failure on line N means N-1 applied; a netns-batch failure means all of
 * them). Only links this attempt created are deleted: a duplicate attach that fails on its first
 * `link add` must not tear down the interface that was already there.
 */
export function planRollback(spec: AttachSpec, hostLinesApplied: number): LinkPlan {
  validate(spec);
  const host: string[] = [];
  const inside: string[] = [];
  let line = 0;
  for (const i of spec.interfaces) {
    const created = line < hostLinesApplied; // its "link add" is the first of its lines
    line += i.kind === "veth" ? 2 : 1;
    if (!created) continue;
    if (i.kind === "veth") host.push(`link delete dev ${i.hostName ?? hostVethName(spec.key, i.ifname)}`);
    else inside.push(`link delete dev ${i.ifname}`);
  }
  return { host, netns: inside, netnsPath: spec.netnsPath };
}
