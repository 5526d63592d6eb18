/**
 * Choosing subnets for networks created without `--subnet`, and refusing subnets that collide with the
 * host's routes or with other networks. Pure: host routes come in as the JSON text of `ip -j route`,
 * which the engine reads once.
 *
 * Default pools (Docker's local defaults, so habits and firewall rules carry over):
 *  - IPv4: 172.17.0.0/16 ... 172.31.0.0/16 as /16s, then 192.168.0.0/16 as /20s.
 *  - IPv6: /64s carved from the ULA prefix fd62:6572:7468::/48. Its 40-bit global ID spells "berth" in ASCII
 *    (62 65 72 74 68): one fixed constant, so every berth host numbers its networks the same way, and not a
 *    low ID such as fd00::/64 that routers and sites tend to pick themselves (this VM's eth0 has fd00::/64).
 * A candidate is skipped when it overlaps any taken range; the search jumps past the taken range instead of
 * stepping one candidate at a time, so a /48 split into /64s is cheap.
 */
import { conflict, invalid, precondition } from "../errors.js";
import {
  bitsOf,
  familyName,
  formatCidr,
  hostCidr,
  lastAddress,
  overlaps,
  parseCidr,
  parseInterfaceCidr,
  parseIp,
  type Cidr,
  type Family,
} from "./cidr.js";

/** A pool: split `base` into subnets of prefix length `size`. */
export interface PoolSpec {
  readonly base: string;
  readonly size: number;
}

export const DEFAULT_ULA_PREFIX = "fd62:6572:7468::/48";

export const DEFAULT_POOLS: readonly PoolSpec[] = Object.freeze([
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: "192.168.0.0/16", size: 20 },
  { base: DEFAULT_ULA_PREFIX, size: 64 },
]);

/** A range already in use, and who uses it (named in conflicts): "host route 10.0.0.0/24 dev eth0", `network "lab"`. */
export interface TakenRange {
  readonly cidr: Cidr;
  readonly owner: string;
}

/** The first taken range that shares an address with `cidr`, or undefined. */
export function overlapsAny(cidr: Cidr, taken: readonly TakenRange[]): TakenRange | undefined {
  return taken.find((t) => overlaps(cidr, t.cidr));
}

/** Refuse a user subnet that overlaps a taken range: a CONFLICT naming both. */
export function refuseOverlap(cidr: Cidr, taken: readonly TakenRange[], what = "subnet"): void {
  const hit = overlapsAny(cidr, taken);
  if (!hit) return;
  const range = formatCidr(hit.cidr);
  const owner = hit.owner.includes(range) ? hit.owner : `${hit.owner} (${range})`;
  throw conflict(`${what} ${formatCidr(cidr)} overlaps ${owner}: choose another subnet`);
}

/** The taken ranges of a network's subnets, for the checks above. */
export function networkRanges(name: string, subnets: readonly (Cidr | string)[]): TakenRange[] {
  return subnets.map((s) => ({ cidr: typeof s === "string" ? parseCidr(s) : s, owner: `network "${name}"` }));
}

export interface ParsedPool {
  base: Cidr;
  size: number;
}

/** Validate pool specs (from the config file): CIDR bases, sizes within the base and the family. */
export function parsePools(specs: readonly PoolSpec[]): ParsedPool[] {
  return specs.map((p) => {
    const base = parseCidr(p.base, "address pool");
    if (!Number.isInteger(p.size) || p.size < base.prefix || p.size > bitsOf(base.family)) {
      throw invalid(`invalid address pool "${p.base}": size /${p.size} must be between /${base.prefix} and /${bitsOf(base.family)}`);
    }
    return { base, size: p.size };
  });
}

/**
 * The first subnet of the pools (of that family, in order) overlapping no taken range. A
 * FAILED_PRECONDITION when every candidate is taken.
 */
export function chooseSubnet(family: Family, taken: readonly TakenRange[], pools: readonly PoolSpec[] = DEFAULT_POOLS): Cidr {
  const mine = parsePools(pools).filter((p) => p.base.family === family);
  for (const { base, size } of mine) {
    const step = 1n << BigInt(bitsOf(family) - size);
    const end = lastAddress(base);
    let n = base.network;
    while (n <= end) {
      const cand: Cidr = { family, network: n, prefix: size };
      const hit = overlapsAny(cand, taken);
      if (!hit) return cand;
      // Jump to the first aligned candidate past both this candidate and the range that took it.
      const hitEnd = lastAddress(hit.cidr);
      const past = (hitEnd > n + step - 1n ? hitEnd : n + step - 1n) + 1n;
      n = ((past + step - 1n) / step) * step;
    }
  }
  const where = mine.length ? mine.map((p) => `${formatCidr(p.base)} as /${p.size}`).join(", ") : "none configured";
  throw precondition(`no free ${familyName(family)} subnet left in the address pools (${where}): give --subnet, or remove unused networks`);
}

// ---- host routes and addresses from `ip -j` ------------------------------------------------------

function parseJsonArray(text: string, what: string): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(text.trim() || "[]");
  } catch (e) {
    throw invalid(`cannot parse the output of ${what}: ${(e as Error).message}`, e);
  }
  if (!Array.isArray(v)) throw invalid(`cannot parse the output of ${what}: expected a JSON array`);
  return v;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * Host routes from `ip -j route show` or `ip -j -6 route show` (any table). Default routes are left out:
 * they cover every address and would make every subnet "overlap". A destination without a prefix is a
 * host route (/32 or /128). Entries the parser does not understand are skipped.
 */
export function routesFromJson(json: string): TakenRange[] {
  const out: TakenRange[] = [];
  for (const r of parseJsonArray(json, "ip -j route")) {
    if (!r || typeof r !== "object") continue;
    const o = r as Record<string, unknown>;
    const dst = str(o.dst);
    if (!dst || dst === "default") continue;
    let cidr: Cidr;
    try {
      cidr = dst.includes("/") ? parseInterfaceCidr(dst, "route").cidr : hostCidr(parseIp(dst, "route"));
    } catch {
      continue;
    }
    if (cidr.prefix === 0) continue;
    const dev = str(o.dev);
    const type = str(o.type);
    out.push({ cidr, owner: `host route ${formatCidr(cidr)}${type && type !== "unicast" ? ` (${type})` : ""}${dev ? ` dev ${dev}` : ""}` });
  }
  return out;
}

/**
 * The connected prefixes of the host's addresses from `ip -j addr show` (both families), with the
 * point-to-point peer of an address when it has one.
 */
export function addressesFromJson(json: string): TakenRange[] {
  const out: TakenRange[] = [];
  for (const link of parseJsonArray(json, "ip -j addr")) {
    if (!link || typeof link !== "object") continue;
    const l = link as Record<string, unknown>;
    const ifname = str(l.ifname) ?? "?";
    const infos = Array.isArray(l.addr_info) ? l.addr_info : [];
    for (const info of infos) {
      if (!info || typeof info !== "object") continue;
      const a = info as Record<string, unknown>;
      const prefixlen = typeof a.prefixlen === "number" ? a.prefixlen : undefined;
      if (prefixlen === undefined) continue;
      for (const key of ["local", "address"] as const) {
        const ip = str(a[key]);
        if (!ip || (key === "address" && ip === str(a.local))) continue;
        let cidr: Cidr;
        try {
          cidr = parseInterfaceCidr(`${ip}/${prefixlen}`, "address").cidr;
        } catch {
          continue;
        }
        if (cidr.prefix === 0) continue;
        out.push({ cidr, owner: `host address ${ip}/${prefixlen} on ${ifname}` });
      }
    }
  }
  return out;
}
