/**
 * IPv4/IPv6 addresses and CIDR prefixes as bigints. Pure: no I/O.
 *
 * Addresses are plain bigints tagged with a family; CIDRs are {family, network, prefix} with the host
 * bits of `network` always zero. Text output is canonical: dotted quad for IPv4, RFC 5952 for IPv6
 * (lower case, no leading zeros, the longest run of two or more zero groups shortened to "::", the first
 * such run on a tie, and IPv4-mapped addresses written as ::ffff:a.b.c.d).
 *
 * Host bits set in a subnet ("10.1.0.5/16") are refused, as Docker does ("invalid subnet 10.1.0.5/16:
 * it should be 10.1.0.0/16"): a user who typed a host address probably meant something else, and
 * silently masking it would hide that. Interface addresses ("10.1.0.5/16" as `ip addr` shows them) go
 * through parseInterfaceCidr, which keeps the address and masks the network.
 */
import { invalid } from "../errors.js";

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: Family;
  /** The first address of the prefix; host bits are zero. */
  readonly network: bigint;
  readonly prefix: number;
}

export const bitsOf = (family: Family): 32 | 128 => (family === 4 ? 32 : 128);
export const familyName = (family: Family): "IPv4" | "IPv6" => (family === 4 ? "IPv4" : "IPv6");

const MAX4 = (1n << 32n) - 1n;
const MAX6 = (1n << 128n) - 1n;
const maxOf = (family: Family): bigint => (family === 4 ? MAX4 : MAX6);

// ---- parsing ---------------------------------------------------------------------------------

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** A dotted quad, or undefined. Leading zeros are refused ("010" is octal to some parsers). */
function tryParse4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function tryParse6(text: string): bigint | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): bigint[] | undefined => {
    if (s === "") return [];
    const raw = s.split(":");
    const out: bigint[] = [];
    for (let i = 0; i < raw.length; i++) {
      const g = raw[i]!;
      if (i === raw.length - 1 && g.includes(".")) {
        const v4 = tryParse4(g);
        if (v4 === undefined) return undefined;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else if (HEXTET.test(g)) {
        out.push(BigInt(`0x${g}`));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0]!.includes(".")) return undefined;
  let groups: bigint[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | g;
  return v;
}

/** Parse an IPv4 or IPv6 address ("10.0.0.1", "fd00::1", "::ffff:10.0.0.1"); `what` names it in the error. */
export function parseIp(text: string, what = "IP address"): IpAddress {
  const t = text.trim();
  if (t.includes(":")) {
    const v = tryParse6(t);
    if (v !== undefined) return { family: 6, value: v };
    if (t.includes("%")) throw invalid(`invalid ${what} "${text}": zone indexes (%) are not accepted`);
  } else {
    const v = tryParse4(t);
    if (v !== undefined) return { family: 4, value: v };
  }
  throw invalid(`invalid ${what} "${text}": not an IPv4 or IPv6 address`);
}

/** Parse an address of a known family. */
export function parseIpOf(family: Family, text: string, what = "IP address"): bigint {
  const a = parseIp(text, what);
  if (a.family !== family) throw invalid(`invalid ${what} "${text}": expected an ${familyName(family)} address`);
  return a.value;
}

/** The prefix mask of a family: prefix ones followed by zeros. */
export function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  return maxOf(family) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

function splitCidr(text: string, what: string): { addr: IpAddress; prefix: number } {
  const t = text.trim();
  const slash = t.indexOf("/");
  if (slash < 0) throw invalid(`invalid ${what} "${text}": expected ADDRESS/PREFIX, as in 10.1.0.0/16 or fd00:1::/64`);
  const addrText = t.slice(0, slash);
  const prefixText = t.slice(slash + 1);
  let addr: IpAddress;
  try {
    addr = parseIp(addrText);
  } catch {
    throw invalid(`invalid ${what} "${text}": "${addrText}" is not an IPv4 or IPv6 address`);
  }
  const bits = bitsOf(addr.family);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
    throw invalid(`invalid ${what} "${text}": the prefix length must be a number from 0 to ${bits}`);
  }
  return { addr, prefix: Number(prefixText) };
}

/** Parse a subnet such as "10.1.0.0/16"; host bits set is an error naming the right subnet (Docker's rule). */
export function parseCidr(text: string, what = "subnet"): Cidr {
  const { addr, prefix } = splitCidr(text, what);
  const network = addr.value & maskOf(addr.family, prefix);
  const cidr: Cidr = { family: addr.family, network, prefix };
  if (network !== addr.value) throw invalid(`invalid ${what} "${text}": host bits are set, it should be ${formatCidr(cidr)}`);
  return cidr;
}

/** Parse "ADDRESS/PREFIX" as an interface address: the address is kept and the network is masked. */
export function parseInterfaceCidr(text: string, what = "interface address"): { address: IpAddress; cidr: Cidr } {
  const { addr, prefix } = splitCidr(text, what);
  return { address: addr, cidr: { family: addr.family, network: addr.value & maskOf(addr.family, prefix), prefix } };
}

/** The CIDR of an address and a prefix length, host bits masked off. */
export function cidrOf(family: Family, address: bigint, prefix: number): Cidr {
  return { family, network: address & maskOf(family, prefix), prefix };
}

/** A single-address prefix (/32 or /128). */
export const hostCidr = (a: IpAddress): Cidr => ({ family: a.family, network: a.value, prefix: bitsOf(a.family) });

// ---- formatting ------------------------------------------------------------------------------

export function formatIpv4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join(".");
}

export function formatIpv6(v: bigint): string {
  const groups: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(Number((v >> s) & 0xffffn));
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  if (v >> 32n === 0xffffn) return `::ffff:${formatIpv4(v & MAX4)}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function formatIp(family: Family, v: bigint): string {
  return family === 4 ? formatIpv4(v) : formatIpv6(v);
}

export const formatAddress = (a: IpAddress): string => formatIp(a.family, a.value);

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.network)}/${c.prefix}`;
}

/** Canonical text of an address string ("FD00:0::1" -> "fd00::1"). */
export const canonicalIp = (text: string, what?: string): string => formatAddress(parseIp(text, what));

// ---- arithmetic ------------------------------------------------------------------------------

/** Number of addresses in the prefix. */
export function size(c: Cidr): bigint {
  return 1n << BigInt(bitsOf(c.family) - c.prefix);
}

/** The last address of the prefix (the IPv4 broadcast address for prefixes up to /30). */
export function lastAddress(c: Cidr): bigint {
  return c.network + size(c) - 1n;
}

/** The IPv4 broadcast address, or undefined where there is none (/31, /32 and IPv6). */
export function broadcast(c: Cidr): bigint | undefined {
  return c.family === 4 && c.prefix <= 30 ? lastAddress(c) : undefined;
}

/** The n-th address of the prefix; a negative n counts from the end (-1 is the last address). */
export function nth(c: Cidr, n: bigint | number): bigint {
  const i = BigInt(n);
  const sz = size(c);
  const idx = i < 0n ? sz + i : i;
  if (idx < 0n || idx >= sz) throw invalid(`address index ${i} is outside ${formatCidr(c)} (${sz} addresses)`);
  return c.network + idx;
}

/**
 * Whether the network address is reserved: the IPv4 network address below /31 and the IPv6
 * subnet-router anycast address below /127 (RFC 3021 and RFC 6164 make both addresses of a point-to-point
 * prefix usable).
 */
export function networkReserved(c: Cidr): boolean {
  return c.family === 4 ? c.prefix <= 30 : c.prefix <= 126;
}

/** The first address a host may use: past the network (v4) or subnet-router anycast (v6) address. */
export function firstHost(c: Cidr): bigint {
  return networkReserved(c) ? c.network + 1n : c.network;
}

/** The last address a host may use: before the IPv4 broadcast address. */
export function lastHost(c: Cidr): bigint {
  return broadcast(c) !== undefined ? lastAddress(c) - 1n : lastAddress(c);
}

/** Whether an address (of the same family) lies inside the prefix. */
export function contains(c: Cidr, a: IpAddress | bigint): boolean {
  if (typeof a === "bigint") return a >= c.network && a <= lastAddress(c);
  return a.family === c.family && a.value >= c.network && a.value <= lastAddress(c);
}

/** Whether `inner` lies entirely inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && (inner.network & maskOf(outer.family, outer.prefix)) === outer.network;
}

/** Whether two prefixes share any address (for aligned prefixes: one contains the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.network === b.network;
}

/** Order by family, then network, then prefix (shorter first). */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.prefix - b.prefix;
}

/** Iterate the addresses from `from` to `to` (inclusive, defaults: the usable hosts), lazily. */
export function* addresses(c: Cidr, from = firstHost(c), to = lastHost(c)): Generator<bigint> {
  for (let v = from; v <= to; v++) yield v;
}

/** Iterate the sub-prefixes of length `prefix` inside `c`, in order, lazily. */
export function* subnets(c: Cidr, prefix: number): Generator<Cidr> {
  if (prefix < c.prefix || prefix > bitsOf(c.family)) throw invalid(`cannot split ${formatCidr(c)} into /${prefix} subnets`);
  const step = 1n << BigInt(bitsOf(c.family) - prefix);
  const end = lastAddress(c);
  for (let n = c.network; n <= end; n += step) yield { family: c.family, network: n, prefix };
}
