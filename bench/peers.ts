/**
 * What the container and network benchmarks share: timing, the host-state check and cleanup, the busybox
 * fixture, and the tools (berth, podman, a private dockerd), each in private directories of the bench.
 *
 * Peers cannot be told to keep everything private. What they create host-wide is undone afterwards, and
 * only what is theirs: global dirs absent before the bench (podman's runc state in /run/runc, netavark's
 * /run/containers/networks with its IPAM db, dockerd's /run/docker/plugins, containerd's /run/containerd/s),
 * the iptables chains and rules dockerd and netavark add (they leave them when they stop), sysctls they
 * flip, and the bridges. The host check at the end compares mounts, netns, links, firewall, sysctls,
 * cgroups and processes with the state before and prints what differs.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, symlinkSync, watch, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { busyboxImage, toDockerArchive, toOciArchive, type Layout } from "../test/helpers/fixtures.js";
import { hostVethName } from "../src/network/link-plan.js";

const CHECKOUT = resolve(import.meta.dirname, "../..");
/** The CLI under test; snapshotBerth points it at a private copy. */
export let BERTH = join(CHECKOUT, "bin/berth");

/**
 * Run the CLI from a private copy of the current build for the whole bench. Other sessions rebuild this
 * checkout meanwhile, and `make build` deletes the bundle before writing it anew: a `berth` started in
 * between (or a container's exit command, which runs the bundle its CLI ran from) would find none. The
 * copy sits at the same depth below its node_modules link as the original, so module lookups cost the same.
 */
export function snapshotBerth(work: string): void {
  const root = join(work, "berth-cli");
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "dist", "bundle"), { recursive: true });
  copyFileSync(join(CHECKOUT, "bin", "berth"), join(root, "bin", "berth"));
  chmodSync(join(root, "bin", "berth"), 0o755);
  copyFileSync(join(CHECKOUT, "dist", "bundle", "berth.cjs"), join(root, "dist", "bundle", "berth.cjs"));
  symlinkSync(join(CHECKOUT, "node_modules"), join(root, "node_modules"));
  BERTH = join(root, "bin", "berth");
}
export const IMAGE = "busybox:latest";
/** docker.io's own client: /usr/local/bin may hold a newer static CLI that would negotiate the API down. */
export const DOCKER_CLI = existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

export const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

// ---------------------------------------------------------------------------------------------------------
// Small helpers

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Nearest-rank percentile. */
export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
};

/**
 * Wall time of one command in ms. Measured here with a monotonic clock rather than /usr/bin/time, whose %e
 * has 10 ms resolution: too coarse for commands that take tens of ms. spawnSync's own cost is the same for
 * every tool.
 */
export function timedMs(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 << 20, timeout: 120_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || "").slice(-2000)}`);
  return ms;
}

export function must(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 300_000, input?: string): string {
  const r = spawnSync(cmd, args, { env, encoding: "utf8", stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], maxBuffer: 64 << 20, timeout, ...(input === undefined ? {} : { input }) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || "").slice(-2000)}`);
  return r.stdout;
}

/** Best effort (cleanup paths): never throws, bounded in time. */
export function quiet(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 120_000): number | null {
  return spawnSync(cmd, args, { env, stdio: "ignore", timeout }).status;
}

export function ls(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function readOr(path: string, dflt = ""): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return dflt;
  }
}

export const pids = () => ls("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
export const cmdline = (pid: number) => readOr(`/proc/${pid}/cmdline`).replace(/\0/g, " ").trim();
export const comm = (pid: number) => readOr(`/proc/${pid}/comm`).trim();
export const ppid = (pid: number) => Number(/^PPid:\s+(\d+)/m.exec(readOr(`/proc/${pid}/status`))?.[1] ?? -1);

/** Processes other than this one whose command line mentions dir. */
export function processesMentioning(dir: string): number[] {
  return pids().filter((p) => p !== process.pid && cmdline(p).includes(dir));
}

export function killAll(ps: number[]): void {
  for (const p of ps) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

function decodeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function mountPoints(): string[] {
  return readOr("/proc/self/mountinfo")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m)
    .map(decodeMountPath);
}

export function umountUnder(dir: string): void {
  for (const m of mountPoints().filter((m) => m === dir || m.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length)) quiet("umount", ["-l", m]);
}

/** Cgroup hierarchy mount points (v1 controllers, named ones, v2). */
function cgroupMounts(): string[] {
  const out: string[] = [];
  for (const line of readOr("/proc/self/mountinfo").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const fstype = post.split(" ")[0];
    if (fstype === "cgroup" || fstype === "cgroup2") out.push(decodeMountPath(pre.split(" ")[4]!));
  }
  return out;
}

/** Cgroup dirs up to `depth` below every hierarchy's root, relative to it (prefixed with the hierarchy). */
function cgroupDirs(depth: number): string[] {
  const out: string[] = [];
  const walk = (dir: string, d: number) => {
    if (d > depth) return;
    for (const n of ls(dir)) {
      const p = join(dir, n);
      if (!existsSync(join(p, "cgroup.procs"))) continue;
      out.push(p);
      walk(p, d + 1);
    }
  };
  for (const m of cgroupMounts()) walk(m, 1);
  return out;
}

/** Cgroup dirs (any hierarchy, up to 6 levels down) named after one of `names`. */
function cgroupsNamed(names: Set<string>): string[] {
  const out: string[] = [];
  const walk = (dir: string, d: number) => {
    if (d > 6) return;
    for (const n of ls(dir)) {
      const p = join(dir, n);
      if (!existsSync(join(p, "cgroup.procs"))) continue;
      if (names.has(n)) out.push(p);
      walk(p, d + 1);
    }
  };
  if (names.size) for (const m of cgroupMounts()) walk(m, 1);
  return out;
}

/** Remove a cgroup named `name` at the top of every hierarchy, children first; only empty ones go. */
export async function removeCgroupEverywhere(rel: string): Promise<void> {
  for (const m of cgroupMounts()) {
    const top = join(m, rel);
    if (!existsSync(top)) continue;
    const tree: string[] = [];
    const walk = (d: string) => {
      for (const n of ls(d)) if (existsSync(join(d, n, "cgroup.procs"))) walk(join(d, n));
      tree.push(d);
    };
    walk(top);
    for (const d of tree) {
      for (let i = 0; i < 30 && existsSync(d); i++) {
        try {
          rmdirSync(d);
        } catch {
          await sleep(100); // exited tasks leave the cgroup asynchronously
        }
      }
    }
  }
}

export const loadLine = () => `load: ${readOr("/proc/loadavg").split(" ").slice(0, 3).join(" ")} (1/5/15 min), ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} cores`;

/** A short random tag for the host-wide names of one bench run (bridges, nftables table). */
export const benchTag = () => randomBytes(3).toString("hex");

/** Run `n` async jobs, at most `par` at a time; rejects with the first failure after all settled. */
export async function pool(n: number, par: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await job(i).catch((e: unknown) => errors.push(e));
    }
  };
  await Promise.all(Array.from({ length: Math.min(par, n) }, worker));
  if (errors.length) throw new Error(`${errors.length} of ${n} jobs failed; first: ${errors[0] instanceof Error ? errors[0].message : String(errors[0])}`);
}

// ---------------------------------------------------------------------------------------------------------
// IPv4 subnets for the peers' bridges, clear of everything on the host

const v4 = (s: string) => s.split(".").reduce((a, o) => a * 256 + Number(o), 0);
const v4str = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");

/** [first, last] of an IPv4 CIDR (a bare address is a /32). */
export function v4Range(cidr: string): [number, number] {
  const [addr, len] = cidr.split("/");
  const bits = len === undefined ? 32 : Number(len);
  const size = 2 ** (32 - bits);
  const first = Math.floor(v4(addr!) / size) * size;
  return [first, first + size - 1];
}

export const v4Inside = (ip: string, cidr: string) => {
  const [a, b] = v4Range(cidr);
  const x = v4(ip);
  return x >= a && x <= b;
};

/**
 * `n` /24s in 10.200.0.0-10.254.255.0 overlapping no route or address on the host. Docker's and podman's
 * defaults (172.17.0.0/16, 10.88.0.0/16) are avoided on purpose: berth's own pool starts at 172.17.0.0/16,
 * and other sessions on this host may be using either.
 */
export function freeSubnets24(n: number): string[] {
  const taken: [number, number][] = [];
  for (const args of [["-j", "route", "show", "table", "all"], ["-j", "addr", "show"]]) {
    const j = JSON.parse(spawnSync("ip", ["-4", ...args], { encoding: "utf8" }).stdout || "[]") as { dst?: string; addr_info?: { local: string; prefixlen: number }[] }[];
    for (const r of j) {
      if (r.dst && r.dst !== "default" && /^\d/.test(r.dst)) taken.push(v4Range(r.dst));
      for (const a of r.addr_info ?? []) taken.push(v4Range(`${a.local}/${a.prefixlen}`));
    }
  }
  const out: string[] = [];
  const base = v4("10.200.0.0") / 256;
  const span = 55 * 256;
  const start = randomBytes(2).readUInt16BE() % span;
  for (let k = 0; k < span && out.length < n; k++) {
    const first = (base + ((start + k) % span)) * 256;
    if (!taken.some(([a, b]) => first <= b && first + 255 >= a)) out.push(`${v4str(first)}/24`);
  }
  if (out.length < n) throw new Error("no free /24 left in 10.200.0.0-10.254.255.0");
  return out;
}

/** The first host address of a /24 (the gateway), with the prefix: "10.1.2.1/24". */
export const gatewayOf = (subnet24: string) => `${v4str(v4Range(subnet24)[0] + 1)}/24`;

// ---------------------------------------------------------------------------------------------------------
// Firewall: dockerd and netavark add iptables chains and rules and leave them when they stop

interface IptTable {
  /** chain -> policy ("-" for a user chain) */
  chains: Map<string, string>;
  rules: string[];
}
/** "iptables" | "ip6tables" -> table -> contents */
export type IptSnapshot = Map<string, Map<string, IptTable>>;

const IPT = ["iptables", "ip6tables"] as const;

function iptSave(cmd: string): { tables: Map<string, IptTable>; nft: boolean } {
  const r = spawnSync(`${cmd}-save`, [], { encoding: "utf8" });
  const tables = new Map<string, IptTable>();
  let cur: IptTable | undefined;
  for (const line of (r.stdout ?? "").split("\n")) {
    if (line.startsWith("*")) tables.set(line.slice(1), (cur = { chains: new Map(), rules: [] }));
    else if (cur && line.startsWith(":")) {
      const [name, policy] = line.slice(1).split(" ");
      cur.chains.set(name!, policy!);
    } else if (cur && line.startsWith("-A ")) cur.rules.push(line);
  }
  return { tables, nft: /nf_tables/.test(r.stdout ?? "") };
}

export function firewallSnapshot(): IptSnapshot {
  return new Map(IPT.map((c) => [c, iptSave(c).tables]));
}

const BUILTIN = new Set(["INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"]);
/** The peers' host-wide scaffolding: shared by every dockerd / podman (netavark, CNI) on the host. */
const PEER_CHAIN = /^(DOCKER|NETAVARK|CNI)/;
/** Per-network and per-container chains: someone's network is up while one exists. */
const PEER_NET_CHAIN = /^(NETAVARK-[0-9A-F]{6,}|CNI-[0-9a-f]{6,})$/;
const target = (rule: string) => / -j (\S+)/.exec(rule)?.[1] ?? "";
const peerRelated = (rule: string) => PEER_CHAIN.test(rule.split(" ")[1]!) || PEER_CHAIN.test(target(rule));
/** Interfaces and addresses a rule names (loopback and multicast ranges are everyone's). */
const rulePeers = (rule: string) => [...rule.matchAll(/ -[iosd] (\S+)/g)].map((m) => m[1]!).filter((x) => !["127.0.0.0/8", "224.0.0.0/4", "ff00::/8", "::1/128"].includes(x));

/**
 * Undo what the peers added to iptables since `before`, and only that: other sessions share this host,
 * and may run their own podman or dockerd meanwhile.
 *  1. Rules naming the bench's own bridges or subnets (`ours`, peer chain names aside): dockerd leaves its
 *     bridge's rules behind when it stops.
 *  2. The peers' scaffolding (DOCKER*, NETAVARK* chains and the jumps to them, absent before the bench),
 *     which they keep after their last network is gone, unless another peer's network still uses it:
 *     a rule of theirs naming an interface or subnet that is not the bench's, or a per-network chain.
 *  3. Built-in policies they changed, and the tables iptables-nft made for them when nothing is left there.
 * Returns one line per change undone (or left on purpose).
 */
export function undoFirewall(before: IptSnapshot, ours: RegExp): string[] {
  const done: string[] = [];
  const mine = (rule: string) => ours.test(rule.replace(/\b(DOCKER|NETAVARK|CNI)[-_A-Za-z0-9]*/g, ""));
  const restore = (cmd: string, table: string, script: string[], what: string) => {
    if (!script.length) return;
    const r = spawnSync(`${cmd}-restore`, ["--noflush"], { input: `*${table}\n${script.join("\n")}\nCOMMIT\n`, encoding: "utf8" });
    done.push(`${cmd} -t ${table}: ${what}${r.status === 0 ? "" : ` (FAILED: ${r.stderr.trim()})`}`);
  };
  const added = (t: IptTable, b: IptTable | undefined) => {
    const left = [...(b?.rules ?? [])];
    return t.rules.filter((r) => {
      const i = left.indexOf(r);
      if (i >= 0) left.splice(i, 1);
      return i < 0;
    });
  };
  for (const cmd of IPT) {
    // 1. The bench's own rules.
    for (const [table, t] of iptSave(cmd).tables) {
      const rules = added(t, before.get(cmd)?.get(table)).filter(mine);
      restore(cmd, table, rules.map((r) => `-D ${r.slice(3)}`), `removed ${rules.length} rule(s) naming the bench's bridges or subnets`);
    }
    // 2. Scaffolding, when no one else's network hangs on it.
    const { tables, nft } = iptSave(cmd);
    const users = [...tables.values()].flatMap((t) => [...[...t.chains.keys()].filter((c) => PEER_NET_CHAIN.test(c)), ...t.rules.filter(peerRelated).flatMap(rulePeers)]);
    const newPeerChains = [...tables].some(([table, t]) => [...t.chains.keys()].some((c) => PEER_CHAIN.test(c) && !before.get(cmd)?.get(table)?.chains.has(c)));
    if (users.length) {
      if (newPeerChains) done.push(`${cmd}: the peers' chains stay: another podman or dockerd on this host uses them (${[...new Set(users)].slice(0, 4).join(", ")})`);
    } else {
      for (const [table, t] of tables) {
        const b = before.get(cmd)?.get(table);
        const chains = [...t.chains.keys()].filter((c) => PEER_CHAIN.test(c) && !b?.chains.has(c));
        const rules = added(t, b).filter((r) => peerRelated(r) && !chains.includes(r.split(" ")[1]!));
        restore(cmd, table, [...rules.map((r) => `-D ${r.slice(3)}`), ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`)], `removed ${rules.length} rule(s) and ${chains.length} chain(s) the peers left`);
      }
    }
    // 3. Policies, and tables made for the peers.
    for (const [table, t] of iptSave(cmd).tables) {
      const b = before.get(cmd)?.get(table);
      for (const [c, p] of t.chains) {
        const was = b?.chains.get(c);
        if (BUILTIN.has(c) && was && was !== p && quiet(cmd, ["-t", table, "-P", c, was]) === 0) done.push(`${cmd} -t ${table}: policy of ${c} restored to ${was} (was set to ${p})`);
      }
      if (!nft || b) continue;
      const empty = !t.rules.length && [...t.chains].every(([c, p]) => BUILTIN.has(c) && p === "ACCEPT");
      if (empty && quiet("nft", ["delete", "table", cmd === "iptables" ? "ip" : "ip6", table]) === 0) done.push(`nft table ${cmd === "iptables" ? "ip" : "ip6"} ${table} (made by iptables-nft for the peers) deleted`);
    }
  }
  return done;
}

// ---------------------------------------------------------------------------------------------------------
// Host-wide sysctls the peers may flip (dockerd enables forwarding; netavark does for IPv6 networks)

const SYSCTLS = ["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables", "net/ipv4/conf/all/route_localnet"];

export function sysctlSnapshot(): Map<string, string> {
  return new Map(SYSCTLS.map((k) => [k, readOr(`/proc/sys/${k}`).trim()]));
}

/** Put back what changed; one line per sysctl restored. */
export function restoreSysctls(before: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    const now = readOr(`/proc/sys/${k}`).trim();
    if (!v || now === v) continue;
    try {
      writeFileSync(`/proc/sys/${k}`, v);
      out.push(`sysctl ${k.replace(/\//g, ".")} restored to ${v} (was set to ${now})`);
    } catch (e) {
      out.push(`sysctl ${k.replace(/\//g, ".")} is ${now}, was ${v}: cannot restore (${(e as Error).message})`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Host state before and after: what the bench could leave behind

/** Global paths the peers create outside the dirs we give them. */
const GLOBAL_PATHS = [
  "/run/runc", // podman's runc calls use runc's default state root
  "/run/containers/networks", // netavark's run dir (podman), even with --network none
  "/run/containers",
  "/run/libpod",
  "/run/netns", // podman's bridge containers' netns (netns-<uuid>), removed by podman with the container
  "/etc/containers/networks",
  "/run/docker/plugins", // dockerd
  "/run/docker",
  "/run/containerd/s", // containerd shims' sockets
  "/run/containerd",
  "/etc/docker/key.json", // dockerd 20.10's trust key, unless deprecated-key-path says otherwise
  "/var/lib/docker",
  "/var/lib/containers/storage",
  "/dev/shm/libpod_lock", // podman's shared-memory locks, made on first use whatever --root or --tmpdir say
];
/**
 * Rootful netavark keeps its IPAM db (and aardvark-dns's config) here whatever podman is told, and podman
 * its lock file in /dev/shm: made by the bench, they are the bench's, and go with it.
 */
const OWNED_WHEN_NEW = new Set(["/run/containers/networks", "/dev/shm/libpod_lock"]);

export interface HostState {
  mounts: Set<string>;
  netns: Set<string>;
  links: Set<string>;
  iptables: Set<string>;
  nft: Set<string>;
  cgroups: Set<string>;
  paths: Set<string>;
  sysctls: Set<string>;
}

function ruleLines(cmd: string, args: string[]): Set<string> {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) return new Set();
  return new Set(
    r.stdout
      .split("\n")
      .map((l) => l.replace(/\[\d+:\d+\]/g, "").trim())
      .filter((l) => l && !l.startsWith("#")),
  );
}

export function hostState(): HostState {
  return {
    mounts: new Set(mountPoints()),
    netns: new Set(ls("/run/netns")),
    links: new Set(
      spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
        .stdout.split("\n")
        .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
        .filter((x): x is string => !!x),
    ),
    iptables: new Set([...ruleLines("iptables-save", [])].map((l) => `v4 ${l}`).concat([...ruleLines("ip6tables-save", [])].map((l) => `v6 ${l}`))),
    // Tables only: other sessions' tests create and fill berth tables of their own meanwhile.
    nft: ruleLines("nft", ["list", "tables"]),
    cgroups: new Set(cgroupDirs(3)),
    paths: new Set(GLOBAL_PATHS.filter((p) => existsSync(p))),
    sysctls: new Set([...sysctlSnapshot()].map(([k, v]) => `${k.replace(/\//g, ".")}=${v}`)),
  };
}

/** A podman of someone else's still runs: netavark's state is theirs too. */
const podmanRunning = () => pids().some((p) => p !== process.pid && (["podman", "netavark", "aardvark-dns"].includes(comm(p)) || (comm(p) === "conmon" && cmdline(p).includes("podman"))));

/** Remove the global dirs the peers created during the bench (absent before, empty now). */
export function removeNewGlobalPaths(before: HostState): void {
  // aardvark-dns (a DNS-enabled podman network's resolver) exits a moment after its last container.
  const settled = () => {
    for (let i = 0; i < 50 && podmanRunning(); i++) spawnSync("sleep", ["0.1"]);
    return !podmanRunning();
  };
  for (const p of GLOBAL_PATHS) {
    if (before.paths.has(p) || !existsSync(p)) continue;
    try {
      if (OWNED_WHEN_NEW.has(p)) {
        if (settled()) rmSync(p, { recursive: true, force: true });
      } else if (p.endsWith("key.json")) rmSync(p);
      else rmdirSync(p); // only if empty: anything inside belongs to someone
    } catch {
      /* not empty: reported by the host check */
    }
  }
}

/** Ids of every berth container of the bench (even `run --rm` ones), for the host check's cgroup search. */
export const berthIds = new Set<string>();

/**
 * What differs from `before`, one line each. Other engineers share this host: changes that cannot be ours
 * (berth containers of other roots) are filtered; what remains is listed with where it is. `ours` matches
 * the bench's own names (dirs, cgroup parents, bridges, nft table), which are marked as such.
 */
export function hostDiff(before: HostState, work: string, ours: RegExp): string[] {
  const after = hostState();
  const out: string[] = [];
  const added = (k: keyof HostState) => [...after[k]].filter((x) => !before[k].has(x));
  // Other sessions' tests come and go meanwhile: names that are not the bench's are counted, not listed.
  // berth's host-side veths are named after the container; podman's and docker's are veth<random>,
  // and podman's netns netns-<uuid>, so those are listed as possibly the bench's.
  const veths = new Set([...berthIds].flatMap((id) => [0, 1, 2, 3].map((i) => hostVethName(id, `eth${i}`))));
  let others = 0;
  const listed = (kind: string, x: string, peerStyle: RegExp) => {
    if (ours.test(x) || veths.has(x)) out.push(`${kind} ${x} (the bench's)`);
    else if (peerStyle.test(x)) out.push(`${kind} ${x} (podman's or docker's: the bench's or another session's)`);
    else others++;
  };
  for (const m of added("mounts")) if (m.startsWith(work) || ours.test(m)) out.push(`mount ${m}`);
  for (const n of added("netns")) listed("netns", n, /^netns-/);
  for (const l of added("links")) listed("link", l, /^veth/);
  for (const r of added("iptables")) out.push(`iptables: ${r}`);
  for (const r of added("nft")) listed("nft", r, /^table (ip|ip6) (filter|nat)$/);
  for (const s of added("sysctls")) out.push(`sysctl ${s}`);
  for (const c of added("cgroups")) if (ours.test(c)) out.push(`cgroup ${c}`);
  for (const c of cgroupsNamed(berthIds)) out.push(`cgroup ${c} (a berth container of the bench)`);
  for (const p of added("paths")) out.push(`path ${p}`);
  for (const p of processesMentioning(work)) out.push(`process ${p} (${comm(p)}): ${cmdline(p).slice(0, 160)}`);
  if (others) log(`host check: ${others} netns, links or nft tables appeared meanwhile under names that are not the bench's (other sessions' tests)`);
  return out;
}

/** Run teardown steps, last first, logging failures; never throws. */
export async function runCleanups(cleanups: (() => Promise<void>)[], what: string): Promise<void> {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (e) {
      log(`${what} cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/**
 * After a bench, its tools cleaned up: its dir and the peers' host-wide leftovers go (firewall and sysctls
 * when snapshots of them are given), then the host is compared with `before`. `ours` names the bench's
 * own things (tag, cgroup parents) for the host check.
 */
export function afterBench(what: string, work: string, dir: string, before: HostState, ours: RegExp, fw?: { snapshot: IptSnapshot; ours: RegExp; sysctls: Map<string, string> }): string[] {
  umountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
  removeNewGlobalPaths(before);
  const undone = fw ? [...undoFirewall(fw.snapshot, fw.ours), ...restoreSysctls(fw.sysctls)] : [];
  return [...(undone.length ? [`undone after ${what}: ${undone.join("; ")}`] : []), hostCheckLine(what, hostDiff(before, work, ours))];
}

/** A RegExp matching any of these strings literally. */
export const anyOf = (xs: string[]) => new RegExp(xs.map((x) => x.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|"));

export function hostCheckLine(what: string, diff: string[]): string {
  return diff.length
    ? `host check after ${what}: ${diff.length} difference(s):\n  ${diff.join("\n  ")}`
    : `host check after ${what}: clean (mounts, netns, links, iptables, nft tables, sysctls, cgroups, global dirs, processes of the bench)`;
}

// ---------------------------------------------------------------------------------------------------------
// The image, once per bench

export interface Fixture {
  layout: Layout;
  oci: string;
  docker: string;
}

export async function fixture(dir: string): Promise<Fixture> {
  const layout = await busyboxImage(join(dir, "layout"));
  const oci = join(dir, "busybox-oci.tar");
  const docker = join(dir, "busybox-docker.tar");
  await toOciArchive(layout, oci, IMAGE);
  await toDockerArchive(layout, docker, IMAGE);
  return { layout, oci, docker };
}

// ---------------------------------------------------------------------------------------------------------
// Tools. A store (berth's, podman's, dockerd) is prepared once with the image loaded; a Tool is one timed
// command against it, and several tools may share a store.

export interface Tool {
  name: string;
  /** Human-readable command line of one timed run. */
  describe: string;
  runOnce(): number;
}

export interface BerthStore {
  /** Global flags: --root, --runroot (and --config). */
  args: string[];
  dir: string;
  cleanup(): Promise<void>;
}

export interface BerthNetConfig {
  /** Bridge of berth's default network. */
  defaultBridge: string;
  nftTable: string;
  /** "none" keeps containers run without --network off any bridge. */
  defaultNetwork?: string;
  /** Other bridges the bench makes berth create (user networks), removed should berth fail to. */
  bridges?: string[];
}

/**
 * A private berth store with the image loaded. With `net`, a private config names the default network's
 * bridge and berth's nftables table, so nothing the bench makes is host-wide under berth's default names.
 */
export function berthStore(dir: string, fx: Fixture, net?: BerthNetConfig): BerthStore {
  const args = ["--root", join(dir, "root"), "--runroot", join(dir, "run")];
  mkdirSync(join(dir, "root", "containers"), { recursive: true });
  if (net) {
    const config = join(dir, "berth.yaml");
    writeFileSync(config, `network:\n${net.defaultNetwork ? `  default: ${net.defaultNetwork}\n` : ""}  defaultBridge: ${net.defaultBridge}\n  nftTable: ${net.nftTable}\n`);
    args.push("--config", config);
  }
  const watcher = watch(join(dir, "root", "containers"), (_ev, name) => {
    if (name && /^[0-9a-f]{64}$/.test(name)) berthIds.add(name);
  });
  must(BERTH, [...args, "load", "-q", "-i", fx.oci]);
  return {
    args,
    dir,
    cleanup: async () => {
      await sleep(0); // queued inotify events name the last containers
      watcher.close();
      if (existsSync(join(dir, "root"))) {
        quiet(BERTH, [...args, "rm", "-af"]);
        if (net) for (const n of spawnSync(BERTH, [...args, "network", "ls", "-q", "--no-trunc"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) quiet(BERTH, [...args, "network", "rm", "-f", n]);
      }
      killAll(processesMentioning(dir));
      for (const n of ls(join(dir, "run", "runc"))) quiet("runc", ["--root", join(dir, "run", "runc"), "delete", "-f", n]);
      if (net) {
        for (const b of [net.defaultBridge, ...(net.bridges ?? [])]) if (existsSync(`/sys/class/net/${b}`)) quiet("ip", ["link", "del", b]);
        quiet("nft", ["delete", "table", "inet", net.nftTable]);
      }
      umountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `run --rm [runArgs] busybox true` against a berth store. */
export function berthTool(s: BerthStore, name: string, runArgs: string[]): Tool {
  const run = [...s.args, "run", "--rm", ...runArgs, IMAGE, "true"];
  return { name, describe: `bin/berth ${run.join(" ")}`, runOnce: () => timedMs(BERTH, run) };
}

/** A netavark network definition as podman 4.3 stores it in its network config dir. */
export interface PodmanNetwork {
  name: string;
  iface: string;
  subnet: string;
  dns?: boolean;
}

export interface Podman {
  dir: string;
  env: NodeJS.ProcessEnv;
  global: string[];
  cgroupParent: string;
  networks: PodmanNetwork[];
}

/**
 * A private podman store. Networks given here are written as netavark config files into the private
 * network config dir; one named "podman" replaces podman's built-in default network (podman0,
 * 10.88.0.0/16), which podman would otherwise create on this host under that shared name.
 */
export function podmanSetup(dir: string, networks: PodmanNetwork[] = []): Podman {
  const conf = join(dir, "containers.conf");
  mkdirSync(join(dir, "networks"), { recursive: true });
  // netavark, not CNI: podman 4.3 would pick it here anyway (it is installed and the store is new), and it
  // keeps less state host-wide (CNI's host-local IPAM and result cache live under /var/lib/cni).
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n[engine]\nevents_logger = "file"\n[network]\nnetwork_backend = "netavark"\n');
  for (const n of networks) {
    const [first] = v4Range(n.subnet);
    const def = {
      name: n.name,
      id: randomBytes(32).toString("hex"),
      driver: "bridge",
      network_interface: n.iface,
      created: new Date().toISOString(),
      subnets: [{ subnet: n.subnet, gateway: v4str(first + 1) }],
      ipv6_enabled: false,
      internal: false,
      dns_enabled: !!n.dns,
      ipam_options: { driver: "host-local" },
    };
    writeFileSync(join(dir, "networks", `${n.name}.json`), JSON.stringify(def, null, 2));
  }
  return {
    dir,
    env: { ...process.env, CONTAINERS_CONF: conf },
    // --tmpdir and --network-config-dir keep libpod's state and netavark's config out of /run/libpod and
    // /etc/containers/networks. The runc state root stays /run/runc: `--runtime-flag root=...` is not
    // passed on by podman's cleanup path, which then leaves stopped containers in the private root.
    global: [
      "--root", join(dir, "root"), "--runroot", join(dir, "run"), "--tmpdir", join(dir, "tmp"),
      "--network-config-dir", join(dir, "networks"), "--storage-driver", "overlay", "--runtime", "runc",
      "--cgroup-manager", "cgroupfs", "--events-backend", "file",
    ],
    // With cgroupfs podman puts containers in /libpod_parent/libpod-<id> and conmon in
    // /libpod_parent/conmon; a private parent keeps both ours alone and removable.
    cgroupParent: `/berth-bench-podman-${randomBytes(4).toString("hex")}`,
    networks,
  };
}

export async function podmanCleanup(p: Podman): Promise<void> {
  if (existsSync(join(p.dir, "root"))) {
    quiet("podman", [...p.global, "rm", "-af", "-t", "0"], p.env);
    quiet("podman", [...p.global, "system", "reset", "-f"], p.env);
  }
  killAll(processesMentioning(p.dir));
  // netavark removes a bridge with its network's last container; these are for a podman that died first.
  for (const n of p.networks) if (existsSync(`/sys/class/net/${n.iface}`)) quiet("ip", ["link", "del", n.iface]);
  umountUnder(p.dir);
  await removeCgroupEverywhere(p.cgroupParent);
  rmSync(p.dir, { recursive: true, force: true });
}

export function podmanLoad(p: Podman, fx: Fixture): void {
  must("podman", [...p.global, "load", "-q", "-i", fx.oci], p.env);
}

/** `podman run --rm [runArgs] busybox true` against a podman store. */
export function podmanTool(p: Podman, name: string, runArgs: string[]): Tool {
  const run = [...p.global, "run", "--rm", ...runArgs, "--cgroup-parent", p.cgroupParent, IMAGE, "true"];
  return { name, describe: `CONTAINERS_CONF=containers.conf podman ${run.join(" ")}`, runOnce: () => timedMs("podman", run, p.env) };
}

/**
 * A private dockerd (and the containerd it starts), for the bench only. Without a bridge it runs with no
 * default bridge and no iptables. With one, its default bridge network is that bridge (made here: dockerd
 * creates only a bridge named docker0 itself, and refuses --bip together with --bridge, so the address is
 * put on it here too), with dockerd's iptables rules and masquerading as on any docker host.
 */
export class Dockerd {
  readonly sock: string;
  readonly cgroupParent = `/berth-bench-docker-${randomBytes(4).toString("hex")}`;
  private child?: ChildProcess;
  private exited = false;
  readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly dir: string,
    readonly bridge?: { name: string; subnet: string },
  ) {
    this.sock = join(dir, "docker.sock");
    this.env = { ...process.env, DOCKER_CONFIG: join(dir, "cli") }; // the client's config stays private too
  }

  get cli(): string[] {
    return ["-H", `unix://${this.sock}`];
  }

  /** Starts dockerd; returns null when it runs, else one line saying why not. */
  async start(): Promise<string | null> {
    if (spawnSync("sh", ["-c", "command -v dockerd"]).status !== 0) return "dockerd is not installed (Debian package docker.io)";
    mkdirSync(join(this.dir, "cli"), { recursive: true });
    const conf = join(this.dir, "daemon.json");
    // deprecated-key-path: dockerd 20.10 otherwise writes its trust key to /etc/docker/key.json.
    writeFileSync(conf, JSON.stringify({ "deprecated-key-path": join(this.dir, "key.json") }));
    const logFile = join(this.dir, "dockerd.log");
    const fd = openSync(logFile, "a");
    let net = ["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"];
    if (this.bridge) {
      must("ip", ["link", "add", this.bridge.name, "type", "bridge"]);
      must("ip", ["addr", "add", gatewayOf(this.bridge.subnet), "dev", this.bridge.name]);
      net = [`--bridge=${this.bridge.name}`, "--ip6tables=false"];
    }
    // No --containerd: dockerd starts its own, with its root under data-root and its state under exec-root.
    const args = [
      "--config-file", conf, "--data-root", join(this.dir, "data"), "--exec-root", join(this.dir, "exec"),
      "--pidfile", join(this.dir, "docker.pid"), "-H", `unix://${this.sock}`, ...net, "--storage-driver", "overlay2",
      "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", this.cgroupParent,
    ];
    this.child = spawn("dockerd", args, { stdio: ["ignore", fd, fd], detached: true });
    closeSync(fd);
    this.child.on("exit", () => (this.exited = true));
    this.child.unref();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.exited) return `dockerd exited at start: ${readOr(logFile).trim().split("\n").slice(-1)[0] ?? ""}`;
      if (existsSync(this.sock) && spawnSync(DOCKER_CLI, [...this.cli, "version", "--format", "{{.Server.Version}}"], { env: this.env, stdio: "ignore" }).status === 0) return null;
      await sleep(200);
    }
    return `dockerd did not answer on its socket within 30 s: ${readOr(logFile).trim().split("\n").slice(-1)[0] ?? ""}`;
  }

  version(): string {
    return spawnSync("dockerd", ["--version"], { encoding: "utf8" }).stdout.trim();
  }

  load(fx: Fixture): void {
    must(DOCKER_CLI, [...this.cli, "load", "-q", "-i", fx.docker], this.env);
  }

  async stop(): Promise<void> {
    if (this.child && !this.exited) {
      quiet(DOCKER_CLI, [...this.cli, "rm", "-f", ...(spawnSync(DOCKER_CLI, [...this.cli, "ps", "-aq"], { env: this.env, encoding: "utf8" }).stdout ?? "").split("\n").filter(Boolean)], this.env, 60_000);
      this.child.kill("SIGTERM");
      for (let i = 0; i < 150 && !this.exited; i++) await sleep(100);
      if (!this.exited) {
        log("dockerd did not stop within 15 s of SIGTERM: SIGKILL");
        this.child.kill("SIGKILL");
        for (let i = 0; i < 50 && !this.exited; i++) await sleep(100);
      }
    }
    // Its containerd and shims, should any outlive it (their command lines name our dirs).
    for (let i = 0; i < 20 && processesMentioning(this.dir).length; i++) await sleep(100);
    killAll(processesMentioning(this.dir));
    // dockerd keeps its default bridge (and its iptables rules: undoFirewall) when it stops.
    if (this.bridge && existsSync(`/sys/class/net/${this.bridge.name}`)) quiet("ip", ["link", "del", this.bridge.name]);
    umountUnder(this.dir);
    await removeCgroupEverywhere(this.cgroupParent);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `docker run --rm [runArgs] busybox true` against a running private dockerd. */
export function dockerTool(d: Dockerd, name: string, runArgs: string[]): Tool {
  const run = [...d.cli, "run", "--rm", ...runArgs, IMAGE, "true"];
  return { name, describe: `${DOCKER_CLI} ${run.join(" ")}   (dockerd ${d.version()}, started by the bench)`, runOnce: () => timedMs(DOCKER_CLI, run, d.env) };
}

// ---------------------------------------------------------------------------------------------------------
// Timing several tools against each other

/**
 * One untimed run of each tool (first-run costs — page cache, lazily created state dirs — are not what we
 * measure), then `runs` rounds, one run of each tool per round, the order rotating each round so that no
 * tool always runs right after the same neighbour and drift in the machine hits every tool alike.
 */
export function interleave(tools: Tool[], runs: number, label: string): Map<string, number[]> {
  for (const t of tools) t.runOnce();
  const samples = new Map<string, number[]>(tools.map((t) => [t.name, []]));
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < tools.length; j++) {
      const t = tools[(i + j) % tools.length]!;
      samples.get(t.name)!.push(t.runOnce());
    }
    if ((i + 1) % 5 === 0) log(`${label}: round ${i + 1}/${runs}`);
  }
  return samples;
}

/** Markdown rows: median, p90 and ratio to `ref` of each named tool (n/a when it did not run). */
export function sampleTable(samples: Map<string, number[]>, names: string[], ref: string): string[] {
  const med = (n: string) => median(samples.get(n)!);
  const lines = [`| tool | median ms | p90 ms | vs ${ref} |`, "|---|---|---|---|"];
  for (const n of names) {
    const s = samples.get(n);
    if (!s) lines.push(`| ${n} | n/a | n/a | n/a |`);
    else lines.push(`| ${n} | ${med(n).toFixed(0)} | ${percentile(s, 90).toFixed(0)} | ${samples.has(ref) ? `${(med(n) / med(ref)).toFixed(2)}x` : "n/a"} |`);
  }
  return lines;
}

export const samplesLine = (samples: Map<string, number[]>) => `samples (ms): ${[...samples].map(([n, s]) => `${n} ${s.map((x) => x.toFixed(0)).join(" ")}`).join("; ")}`;
