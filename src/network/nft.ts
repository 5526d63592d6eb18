/**
 * berth's nftables rules: ONE `table inet <name>` (inet NAT needs kernel >= 5.2, so one table serves
 * IPv4 and IPv6 filter and NAT alike) rendered from the list of networks and published ports, and
 * applied with `nft -f -` as a single transaction that replaces the whole table:
 *
 *   table inet berth            # creates it if missing, so that the delete cannot fail
 *   delete table inet berth
 *   table inet berth { ... }    # the new content
 *
 * Rendering is pure (unit tested); apply/delete/list spawn nft.
 *
 * Chains:
 *   forward      filter, policy accept (berth never drops traffic that is not its own):
 *                established/related accept; --internal bridges cannot forward to or from any other
 *                interface; different berth bridges cannot reach each other (isolation).
 *   input        filter: on non-internal bridges, only localhost-DNAT replies may reach 127.0.0.0/8.
 *   prerouting   nat/dstnat: traffic to a local address jumps to `published`, except 127.0.0.0/8 from
 *                another interface (another host must not reach ports published on 127.0.0.1).
 *   output       nat/-100: the same for connections from the host itself (127.0.0.1:PORT works),
 *                except ::1 (IPv6 has no route_localnet: ::1 can never be routed to another link).
 *   published    one DNAT rule per port mapping.
 *   postrouting  nat/srcnat: masquerade non-internal subnets leaving by another interface; masquerade
 *                127.0.0.0/8 sources leaving by a berth bridge (localhost DNAT: the container must
 *                answer to the bridge address, not to its own loopback); hairpin masquerade for a
 *                container reaching a published port of a container on the same bridge.
 *
 * Localhost DNAT also needs `route_localnet=1` on the bridge (the kernel otherwise refuses to route a
 * 127.0.0.0/8 source out of a non-loopback interface). localnetSysctls() lists those per-bridge
 * settings; they vanish with the bridge and applySysctls() records the old values anyway. No global
 * sysctl is touched. Outbound NAT additionally needs IPv4/IPv6 forwarding, a host-wide choice this
 * module leaves to the engine.
 *
 * Another table with a drop policy at the forward hook still wins over berth's accepts (in nftables a
 * drop in any base chain is final); that is the host administrator's call.
 */
import { isIP } from "node:net";
import { BerthError, invalid } from "../core/errors.js";
import { run } from "../runtime/exec-file.js";
import type { SysctlSetting } from "./apply.js";
import { checkIfname, cidrFamily } from "./link-plan.js";

export const DEFAULT_TABLE = "berth";

export interface NftNetwork {
  bridge: string;
  /** CIDRs, v4 and/or v6 ("10.88.0.0/16", "fd00::/64"). */
  subnets: string[];
  /** No forwarding in or out of the bridge, no NAT. */
  internal?: boolean;
  /** Masquerade traffic leaving by another interface; default true unless internal. */
  masquerade?: boolean;
}

export type Proto = "tcp" | "udp" | "sctp";

export interface PortMapping {
  /** Restrict to one local address; undefined = every local address of the container IP's family. */
  hostIp?: string;
  hostPort: number;
  proto: Proto;
  containerIp: string;
  containerPort: number;
}

export interface NftConfig {
  /** Table name; tests use a unique one (berth_test_<rand>). */
  table?: string;
  networks: NftNetwork[];
  ports: PortMapping[];
}

const TABLE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export function checkTableName(name: string): string {
  if (!TABLE.test(name)) throw invalid(`invalid nftables table name "${name}": a letter then up to 63 of [A-Za-z0-9_]`);
  return name;
}

function checkPort(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw invalid(`invalid ${what} ${p}: 1-65535`);
  return p;
}

/** Normalise a subnet to its network address: nft refuses "10.88.0.1/16" in a prefix match. */
function networkOf(cidr: string): string {
  const fam = cidrFamily(cidr);
  const [addr, lenText] = cidr.split("/") as [string, string];
  const len = Number(lenText);
  if (fam === 4) {
    const n = addr.split(".").reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
    const masked = len === 0 ? 0n : (n >> BigInt(32 - len)) << BigInt(32 - len);
    return `${[24n, 16n, 8n, 0n].map((s) => String((masked >> s) & 255n)).join(".")}/${len}`;
  }
  const v = parse6(addr);
  const masked = len === 0 ? 0n : (v >> BigInt(128 - len)) << BigInt(128 - len);
  return `${format6(masked)}/${len}`;
}

function parse6(a: string): bigint {
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split(".").map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? (s.split("::") as [string, string]) : [s, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || "0", 16)), 0n);
}

function format6(v: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(16 * (7 - i))) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

const q = (ifname: string) => `"${ifname}"`;
const set = (names: string[]) => (names.length === 1 ? q(names[0]!) : `{ ${names.map(q).join(", ")} }`);

function validate(cfg: NftConfig): void {
  checkTableName(cfg.table ?? DEFAULT_TABLE);
  const seen = new Set<string>();
  for (const n of cfg.networks) {
    checkIfname(n.bridge, "bridge name");
    if (seen.has(n.bridge)) throw invalid(`nft: bridge ${n.bridge} listed twice`);
    seen.add(n.bridge);
    for (const s of n.subnets) cidrFamily(s);
  }
  const used = new Set<string>();
  for (const p of cfg.ports) {
    if (!["tcp", "udp", "sctp"].includes(p.proto)) throw invalid(`invalid protocol "${p.proto}": tcp, udp or sctp`);
    checkPort(p.hostPort, "host port");
    checkPort(p.containerPort, "container port");
    const cf = isIP(p.containerIp);
    if (cf === 0) throw invalid(`invalid container address "${p.containerIp}"`);
    if (p.hostIp !== undefined) {
      const hf = isIP(p.hostIp);
      if (hf === 0) throw invalid(`invalid host address "${p.hostIp}"`);
      if (hf !== cf) throw invalid(`port ${p.hostPort}/${p.proto}: host address ${p.hostIp} and container address ${p.containerIp} are of different families`);
      if (hf === 6 && isLoopback6(p.hostIp)) throw invalid(`port ${p.hostPort}/${p.proto}: cannot publish on ::1 (the kernel cannot route IPv6 loopback traffic to a container)`);
    }
    const key = `${cf}/${p.proto}/${p.hostPort}/${anyAddr(p.hostIp) ? "*" : p.hostIp}`;
    if (used.has(key)) throw invalid(`port ${p.hostPort}/${p.proto} published twice`);
    used.add(key);
  }
}

const anyAddr = (ip: string | undefined) => ip === undefined || ip === "0.0.0.0" || ip === "::";
const isLoopback6 = (ip: string) => parse6(ip) === 1n;

function dnatRule(p: PortMapping): string {
  const fam = isIP(p.containerIp) as 4 | 6;
  const match = anyAddr(p.hostIp) ? `meta nfproto ${fam === 4 ? "ipv4" : "ipv6"}` : `${fam === 4 ? "ip" : "ip6"} daddr ${p.hostIp}`;
  const to = fam === 4 ? `ip to ${p.containerIp}:${p.containerPort}` : `ip6 to [${p.containerIp}]:${p.containerPort}`;
  return `${match} ${p.proto} dport ${p.hostPort} dnat ${to}`;
}

/** The whole `nft -f` script that atomically replaces berth's table. */
export function renderNftScript(cfg: NftConfig): string {
  validate(cfg);
  const t = cfg.table ?? DEFAULT_TABLE;
  const nets = cfg.networks;
  const bridges = nets.map((n) => n.bridge);
  const forward: string[] = ["ct state established,related accept"];
  for (const n of nets.filter((x) => x.internal)) {
    forward.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`);
    forward.push(`oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
  }
  for (const b of bridges) {
    const others = bridges.filter((o) => o !== b);
    if (others.length) forward.push(`iifname ${q(b)} oifname ${set(others)} drop`);
  }
  const post: string[] = [];
  for (const n of nets.filter((x) => !x.internal)) {
    const br = q(n.bridge);
    const v4 = n.subnets.filter((s) => cidrFamily(s) === 4).map(networkOf);
    const v6 = n.subnets.filter((s) => cidrFamily(s) === 6).map(networkOf);
    post.push(`oifname ${br} ip saddr 127.0.0.0/8 masquerade`);
    for (const s of v4) post.push(`oifname ${br} ip saddr ${s} ct status dnat masquerade`);
    for (const s of v6) post.push(`oifname ${br} ip6 saddr ${s} ct status dnat masquerade`);
    if (n.masquerade ?? true) {
      for (const s of v4) post.push(`ip saddr ${s} oifname != ${br} masquerade`);
      for (const s of v6) post.push(`ip6 saddr ${s} oifname != ${br} masquerade`);
    }
  }
  const chain = (name: string, head: string | undefined, rules: string[]) =>
    [`\tchain ${name} {`, ...(head ? [`\t\t${head}`] : []), ...rules.map((r) => `\t\t${r}`), "\t}"].join("\n");
  // IPv4 checks a 127.0.0.0/8 destination from another interface only when routing, AFTER prerouting: without
  // this return, `fib daddr type local` matches it and DNAT makes it routable, so another host that routes
  // 127.0.0.1 to this one would reach every published port, 127.0.0.1-only ones included. Left alone, it
  // stays a martian the kernel drops. (IPv6 drops ::1 from the wire before any hook.) Local connections never
  // pass here: their NAT is decided in `output`. Without published ports there is nothing to guard.
  const prerouting = [...(cfg.ports.length ? ['iifname != "lo" ip daddr 127.0.0.0/8 return'] : []), "fib daddr type local jump published"];
  // route_localnet on berth's bridges (localnetSysctls) also lets anything on a bridge (a container with
  // NET_ADMIN, a lab router) send to the host's 127.0.0.1 services directly. The only loopback traffic a
  // bridge must deliver is the replies of localhost DNAT (un-masqueraded back to 127.0.0.1): conntrack marks
  // those dnat. An untracked packet has no ct status, hence the separate drop.
  const localnet = nets.filter((n) => !n.internal).map((n) => n.bridge);
  const input = localnet.length ? [`iifname ${set(localnet)} ip daddr 127.0.0.0/8 ct status dnat return`, `iifname ${set(localnet)} ip daddr 127.0.0.0/8 drop`] : [];
  const body = [
    chain("forward", "type filter hook forward priority filter; policy accept;", forward),
    ...(input.length ? [chain("input", "type filter hook input priority filter; policy accept;", input)] : []),
    chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", prerouting),
    // nft 1.0.6 accepts the "dstnat" keyword only at prerouting; -100 is its value.
    chain("output", "type nat hook output priority -100; policy accept;", ["ip6 daddr ::1 return", "fib daddr type local jump published"]),
    chain("published", undefined, cfg.ports.map(dnatRule)),
    chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", post),
  ].join("\n");
  return `table inet ${t}\ndelete table inet ${t}\ntable inet ${t} {\n${body}\n}\n`;
}

/** Script deleting the table; creating it first makes the delete succeed when it is already gone. */
export function renderNftDelete(table: string = DEFAULT_TABLE): string {
  const t = checkTableName(table);
  return `table inet ${t}\ndelete table inet ${t}\n`;
}

/**
 * Per-bridge sysctls that localhost DNAT needs: route_localnet=1 on each non-internal berth bridge.
 * Keys are /proc/sys-relative paths (interface names may contain dots).
 */
export function localnetSysctls(networks: readonly NftNetwork[]): SysctlSetting[] {
  return networks.filter((n) => !n.internal).map((n) => ({ key: `net/ipv4/conf/${checkIfname(n.bridge, "bridge name")}/route_localnet`, value: "1" }));
}

// ---- executors ----------------------------------------------------------------------------------

async function nft(args: string[], input?: string): Promise<string> {
  const r = await run("nft", args, input === undefined ? {} : { input }).catch((e: Error) => {
    throw new BerthError("UNAVAILABLE", `cannot run nft: ${e.message}`, { cause: e });
  });
  if (r.code !== 0) {
    // nft prints "<file>:L:C-C: Error: ..." then the offending line and a caret line: keep the first.
    const first = r.stderr.split("\n").find((l) => l.trim()) ?? `exit status ${r.code}`;
    const m = /^\/dev\/stdin:(\d+):/.exec(first) ?? /^-:(\d+):/.exec(first);
    const lineNo = m ? Number(m[1]) : 0;
    const line = lineNo && input ? input.split("\n")[lineNo - 1]?.trim() : undefined;
    throw new BerthError("INTERNAL", `nft ${args.join(" ")}: ${first.trim()}${line ? ` (in: ${line})` : ""}`);
  }
  return r.stdout;
}

/** Apply a rendered script atomically (`nft -f -`); with check, only validate it (`nft -c -f -`). */
export async function applyNft(script: string, opts: { check?: boolean } = {}): Promise<void> {
  await nft([...(opts.check ? ["-c"] : []), "-f", "-"], script);
}

/** Delete berth's table; idempotent. */
export async function deleteNftTable(table: string = DEFAULT_TABLE): Promise<void> {
  await nft(["-f", "-"], renderNftDelete(table));
}

/** Tables as "family name" strings ("inet berth"). */
export async function listNftTables(): Promise<string[]> {
  const out = await nft(["-j", "list", "tables"]);
  const j = JSON.parse(out) as { nftables: { table?: { family: string; name: string } }[] };
  return j.nftables.flatMap((e) => (e.table ? [`${e.table.family} ${e.table.name}`] : []));
}
