/**
 * Address allocation inside one subnet. Pure: the caller reads the used addresses (the network store does
 * so inside a write transaction) and records the result.
 *
 * Dynamic allocation is sequential, as Docker's: it starts after the last address handed out (the cursor),
 * runs up to the top of the range and wraps around to the lowest address, so a just-released address is
 * not handed out again at once (stale ARP caches and hosts files of peers would still point at the old
 * holder). Without a cursor it starts from the lowest address. The cost is O(number of used addresses),
 * never O(size of the subnet): every candidate skipped is a used or reserved address.
 *
 * Reserved, never handed out: the IPv4 network and broadcast addresses (not on /31 and /32), the IPv6
 * subnet-router anycast address (not on /127 and /128), and the gateway.
 *
 * `--ip-range` restricts dynamic allocation only; a static address may be anywhere in the subnet (Docker's
 * rule, which lets users keep static addresses outside the dynamic range).
 */
import { conflict, invalid, precondition } from "../errors.js";
import {
  broadcast,
  containsCidr,
  contains,
  familyName,
  firstHost,
  formatCidr,
  formatIp,
  lastAddress,
  lastHost,
  networkReserved,
  parseCidr,
  parseIpOf,
  type Cidr,
} from "./cidr.js";

/** One subnet of a network, parsed. */
export interface SubnetPlan {
  readonly subnet: Cidr;
  /** The gateway address (defaults to the first host). */
  readonly gateway: bigint;
  /** Dynamic allocations come from here (defaults to the whole subnet). */
  readonly ipRange?: Cidr;
}

/** Anything that answers "is this address used", optionally naming the holder (a Map of address -> holder). */
export type UsedAddresses = ReadonlySet<bigint> | ReadonlyMap<bigint, string>;

/**
 * Validate a subnet as given by the user (`--subnet`, `--gateway`, `--ip-range`) and fill in the default
 * gateway. `label` names the network in errors.
 */
export function planSubnet(spec: { subnet: string; gateway?: string | null; ipRange?: string | null }, label = "network"): SubnetPlan {
  const subnet = parseCidr(spec.subnet);
  const where = `${label} ${formatCidr(subnet)}`;
  let ipRange: Cidr | undefined;
  if (spec.ipRange) {
    ipRange = parseCidr(spec.ipRange, "ip-range");
    if (!containsCidr(subnet, ipRange)) throw invalid(`invalid ip-range "${spec.ipRange}": not inside the subnet of ${where}`);
  }
  let gateway: bigint;
  if (spec.gateway) {
    gateway = parseIpOf(subnet.family, spec.gateway, "gateway");
    if (!contains(subnet, gateway)) throw invalid(`invalid gateway "${spec.gateway}": not inside the subnet of ${where}`);
    if (isReserved(subnet, gateway)) throw invalid(`invalid gateway "${spec.gateway}": it is the network or broadcast address of ${where}`);
  } else {
    gateway = firstHost(subnet);
  }
  return ipRange ? { subnet, gateway, ipRange } : { subnet, gateway };
}

/** The network address (where reserved) or the IPv4 broadcast address. */
function isReserved(subnet: Cidr, a: bigint): boolean {
  return (networkReserved(subnet) && a === subnet.network) || a === broadcast(subnet);
}

function holderOf(used: UsedAddresses, a: bigint): string | undefined {
  if (!used.has(a)) return undefined;
  return used instanceof Map ? (used.get(a) as string | undefined) : undefined;
}

/**
 * Check a static address (`--ip`, `--ip6`): inside the subnet, not reserved, not the gateway, free.
 * Returns the address; `label` names the network in errors.
 */
export function checkStatic(plan: SubnetPlan, address: bigint, used: UsedAddresses, label = "network"): bigint {
  const { subnet } = plan;
  const text = formatIp(subnet.family, address);
  const where = `${label} (${formatCidr(subnet)})`;
  if (!contains(subnet, address)) throw invalid(`invalid address "${text}": not inside the subnet of ${where}`);
  if (isReserved(subnet, address)) throw invalid(`invalid address "${text}": it is the network or broadcast address of ${where}`);
  if (address === plan.gateway) throw conflict(`address ${text} is the gateway of ${where}`);
  if (used.has(address)) {
    const holder = holderOf(used, address);
    throw conflict(`address ${text} is already in use on ${where}${holder ? ` by ${holder}` : ""}`);
  }
  return address;
}

/** The bounds of dynamic allocation: the ip-range (or the subnet) minus the network/broadcast addresses. */
export function dynamicBounds(plan: SubnetPlan): { low: bigint; high: bigint } {
  const lowS = firstHost(plan.subnet);
  const highS = lastHost(plan.subnet);
  if (!plan.ipRange) return { low: lowS, high: highS };
  const lowR = plan.ipRange.network;
  const highR = lastAddress(plan.ipRange);
  return { low: lowR > lowS ? lowR : lowS, high: highR < highS ? highR : highS };
}

/**
 * The next free address for a dynamic allocation, or undefined when the range is full. `after` is the last
 * address handed out on this subnet (the cursor); the search starts just above it and wraps around.
 */
export function nextFree(plan: SubnetPlan, used: UsedAddresses, after?: bigint): bigint | undefined {
  const { low, high } = dynamicBounds(plan);
  if (low > high) return undefined;
  const start = after !== undefined && after >= low && after < high ? after + 1n : low;
  const free = (a: bigint) => a !== plan.gateway && !used.has(a);
  for (let a = start; a <= high; a++) if (free(a)) return a;
  for (let a = low; a < start; a++) if (free(a)) return a;
  return undefined;
}

/**
 * Allocate one address: the requested one (checked with checkStatic), or the next free one after the
 * cursor. A full range is a FAILED_PRECONDITION naming the network and its subnet.
 */
export function allocate(plan: SubnetPlan, used: UsedAddresses, opts: { requested?: bigint; after?: bigint; label?: string } = {}): bigint {
  const label = opts.label ?? "network";
  if (opts.requested !== undefined) return checkStatic(plan, opts.requested, used, label);
  const a = nextFree(plan, used, opts.after);
  if (a === undefined) {
    const range = plan.ipRange ? `ip-range ${formatCidr(plan.ipRange)} of ` : "";
    throw precondition(`no free ${familyName(plan.subnet.family)} address left in ${range}${label} (${formatCidr(plan.subnet)}): remove containers or give the network a larger subnet`);
  }
  return a;
}
