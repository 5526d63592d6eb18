/**
 * Pure parsers for the network flags of `run`/`create` (and `network connect`): `-p/--publish`,
 * `--add-host`, `--ip/--ip6`, `--mac-address`, `--dns*`, `--network-alias`. Each error is one line naming
 * the flag and the value. Addresses are checked for syntax only: whether an address fits a network's
 * subnet is the engine's call, as it knows the subnets.
 */
import { invalid } from "../core/errors.js";
import { canonicalIp, parseIp, type Family } from "../core/net/cidr.js";
import { normalizeMac } from "../core/net/mac.js";
import type { ContainerOptions, PortMapping } from "../core/spec/types.js";

const PORT_RE = /^\d{1,5}$/;

/** "80" or "8000-8002" -> [start, end]; `min` is 0 for host ports (0 = pick a free one). */
function portRange(text: string, min: number, bad: (why: string) => Error, what: string): [number, number] {
  const dash = text.indexOf("-");
  const parts = dash < 0 ? [text] : [text.slice(0, dash), text.slice(dash + 1)];
  const nums = parts.map((p) => {
    if (!PORT_RE.test(p)) throw bad(`"${p}" is not a ${what} port number`);
    const n = Number(p);
    if (n < min || n > 65535) throw bad(`${what} port ${p} is out of range (${min}-65535)`);
    return n;
  });
  const [start, end = start] = nums as [number, number?];
  if (end < start) throw bad(`${what} port range ${text} ends before it starts`);
  return [start, end];
}

/**
 * One `-p` value -> its mappings. Forms (Docker's): `containerPort`, `hostPort:containerPort`,
 * `ip:hostPort:containerPort`, `ip::containerPort`, each with an optional `/tcp` or `/udp`; ports may be
 * ranges of the same length (`8000-8002:80-82`, expanded pairwise); an IPv6 host address goes in brackets
 * (`[::1]:8080:80`). A missing or 0 host port means "pick a free one" (hostPort 0).
 */
export function parsePublish(value: string, flag = "-p"): PortMapping[] {
  const bad = (why: string) => invalid(`invalid ${flag} "${value}": ${why}`);
  let rest = value.trim();
  let protocol: PortMapping["protocol"] = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p === "sctp") throw bad("sctp is not supported (tcp or udp)");
    if (p !== "tcp" && p !== "udp") throw bad(`unknown protocol "${rest.slice(slash + 1)}" (expected tcp or udp)`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  if (rest === "") throw bad("no container port");

  let hostIp: string | undefined;
  let hostPart = "";
  let containerPart: string;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0 || rest[close + 1] !== ":") throw bad("expected [IPv6]:hostPort:containerPort");
    hostIp = rest.slice(1, close);
    const ports = rest.slice(close + 2).split(":");
    if (ports.length !== 2) throw bad("expected [IPv6]:hostPort:containerPort or [IPv6]::containerPort");
    [hostPart, containerPart] = ports as [string, string];
  } else {
    const parts = rest.split(":");
    const n = parts.length;
    containerPart = parts[n - 1]!;
    if (n === 2) hostPart = parts[0]!;
    else if (n >= 3) {
      // Docker also takes an unbracketed IPv6 address when there are more colons (`::1:8080:80`).
      hostIp = parts.slice(0, n - 2).join(":");
      hostPart = parts[n - 2]!;
    }
  }
  if (hostIp !== undefined) {
    if (hostIp === "") throw bad("empty host IP (leave out the first colon, or give an address)");
    try {
      hostIp = canonicalIp(hostIp);
    } catch {
      throw bad(`"${hostIp}" is not an IPv4 or IPv6 address`);
    }
  }
  if (containerPart === "") throw bad("no container port");
  const [cStart, cEnd] = portRange(containerPart, 1, bad, "container");
  const count = cEnd - cStart + 1;
  let hStart = 0;
  if (hostPart !== "") {
    const [s, e] = portRange(hostPart, 0, bad, "host");
    if (s === 0 && e !== 0) throw bad("a host port range cannot start at 0");
    if (e - s + 1 !== count && !(s === 0 && e === 0)) {
      throw bad(count === 1 ? "a host port range for one container port is not supported: give one host port" : `the host range ${hostPart} and the container range ${containerPart} differ in length`);
    }
    hStart = s;
  }
  const out: PortMapping[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ ...(hostIp !== undefined ? { hostIp } : {}), hostPort: hStart === 0 ? 0 : hStart + i, containerPort: cStart + i, protocol });
  }
  return out;
}

const HOST_NAME_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/**
 * `--add-host NAME:IP` or `NAME=IP` -> "NAME:IP" (Docker's stored form). The name ends at the first `=`, or
 * else at the first `:`, so `host:::1` is host -> ::1; an IPv6 address may also be bracketed (`host=[::1]`).
 */
export function parseAddHost(value: string): string {
  const bad = (why: string) => invalid(`invalid --add-host "${value}": ${why}`);
  let cut = value.indexOf("=");
  if (cut < 0) cut = value.indexOf(":");
  if (cut < 0) throw bad("expected NAME:IP or NAME=IP");
  const name = value.slice(0, cut).trim();
  let ip = value.slice(cut + 1).trim();
  if (!HOST_NAME_RE.test(name)) throw bad(`"${name}" is not a host name`);
  if (ip === "host-gateway") throw bad("host-gateway is not supported yet: give the address");
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  try {
    return `${name}:${canonicalIp(ip)}`;
  } catch {
    throw bad(`"${ip}" is not an IPv4 or IPv6 address`);
  }
}

/** An address of one family (--ip: 4, --ip6: 6) or either, in canonical form. */
export function parseIpFlag(flag: string, value: string, family?: Family): string {
  let fam: Family;
  try {
    fam = parseIp(value).family;
  } catch {
    throw invalid(`invalid ${flag} "${value}": not ${family === 4 ? "an IPv4" : family === 6 ? "an IPv6" : "an IP"} address`);
  }
  if (family && fam !== family) throw invalid(`invalid ${flag} "${value}": expected an IPv${family} address`);
  return canonicalIp(value);
}

export function parseMacFlag(flag: string, value: string): string {
  try {
    return normalizeMac(value);
  } catch (e) {
    throw invalid(`invalid ${flag} "${value}": ${(e as Error).message.replace(/^invalid MAC address "[^"]*": /, "")}`);
  }
}

const DOMAIN_RE = /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** `--dns-search DOMAIN`; "." means "no search domains" (Docker's spelling). */
export function parseDnsSearch(value: string): string {
  if (value === "." || (DOMAIN_RE.test(value) && value.length <= 253)) return value;
  throw invalid(`invalid --dns-search "${value}": not a domain name`);
}

/** `--network-alias NAME` and `network connect --alias NAME`. */
export function parseAlias(flag: string, value: string): string {
  if (HOST_NAME_RE.test(value) && value.length <= 253) return value;
  throw invalid(`invalid ${flag} "${value}": not a host name`);
}

/** The raw network flag values of run/create. */
export interface NetworkFlagValues {
  network?: string;
  net?: string;
  ip?: string;
  ip6?: string;
  networkAlias?: string[];
  macAddress?: string;
  publish?: string[];
  publishAll?: boolean;
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
}

type NetworkOptions = Pick<ContainerOptions, "network" | "ip" | "ip6" | "networkAliases" | "macAddress" | "publish" | "publishAll" | "dns" | "dnsSearch" | "dnsOptions" | "addHosts">;

/** `--network` modes that are not a network: no addresses, ports or aliases apply to them. */
function specialMode(network: string | undefined): string | undefined {
  if (network === undefined) return undefined;
  if (network === "none" || network === "host") return network;
  if (network.startsWith("container:")) return "container";
  if (network.startsWith("ns:")) return "ns";
  return undefined;
}

/** The network flags of run/create -> their ContainerOptions fields (only those given). */
export function toNetworkOptions(o: NetworkFlagValues): NetworkOptions {
  const c: NetworkOptions = {};
  const network = o.network ?? o.net;
  if (network !== undefined) {
    const flag = o.network !== undefined ? "--network" : "--net";
    if (network.trim() === "") throw invalid(`invalid ${flag} "${network}": expected a network name, none, host, container:NAME or ns:/path`);
    if (network.startsWith("container:") && network.length === "container:".length) throw invalid(`invalid ${flag} "${network}": name the container (container:NAME)`);
    if (network.startsWith("ns:") && !network.slice(3).startsWith("/")) throw invalid(`invalid ${flag} "${network}": the namespace path must be absolute (ns:/run/netns/NAME)`);
    c.network = network;
  }
  if (o.ip !== undefined) c.ip = parseIpFlag("--ip", o.ip, 4);
  if (o.ip6 !== undefined) c.ip6 = parseIpFlag("--ip6", o.ip6, 6);
  if (o.networkAlias?.length) c.networkAliases = o.networkAlias.map((a) => parseAlias("--network-alias", a));
  if (o.macAddress !== undefined) c.macAddress = parseMacFlag("--mac-address", o.macAddress);
  if (o.publish?.length) c.publish = o.publish.flatMap((p) => parsePublish(p));
  if (o.publishAll) c.publishAll = true;
  if (o.dns?.length) c.dns = o.dns.map((d) => parseIpFlag("--dns", d));
  if (o.dnsSearch?.length) c.dnsSearch = o.dnsSearch.map(parseDnsSearch);
  if (o.dnsOption?.length) {
    c.dnsOptions = o.dnsOption.map((d) => {
      if (!/^[A-Za-z0-9_-]+(:[^\s]+)?$/.test(d)) throw invalid(`invalid --dns-option "${d}": expected an option such as ndots:2 or edns0`);
      return d;
    });
  }
  if (o.addHost?.length) c.addHosts = o.addHost.map(parseAddHost);

  // Addresses, ports and aliases belong to a network; the special modes have none of their own.
  const mode = specialMode(network);
  if (mode) {
    const given: [string, boolean][] = [
      ["-p/--publish", !!c.publish],
      ["-P/--publish-all", !!c.publishAll],
      ["--ip", c.ip !== undefined],
      ["--ip6", c.ip6 !== undefined],
      ["--network-alias", !!c.networkAliases],
      ["--mac-address", c.macAddress !== undefined],
      // A container: mode shares the other container's /etc/hosts and /etc/resolv.conf too.
      ...(mode === "container" ? ([["--dns", !!c.dns], ["--dns-search", !!c.dnsSearch], ["--dns-option", !!c.dnsOptions], ["--add-host", !!c.addHosts]] as [string, boolean][]) : []),
    ];
    const clash = given.find(([, set]) => set);
    if (clash) throw invalid(`conflicting options: ${clash[0]} and --network ${network} (${mode === "container" ? "the container shares another container's network" : mode === "ns" ? "the container joins an existing network namespace" : `network mode ${mode} has no network of its own`})`);
  }
  return c;
}
