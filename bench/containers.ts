/**
 * Container benchmarks for `make bench` (bench/run.ts wires them in; BENCH_ONLY=run / BENCH_ONLY=idle).
 *
 * run:  `run --rm busybox true` without a network, berth against podman, docker (a private dockerd started
 *       for the bench only) and bare `runc run` on a prepared bundle (the floor). Interleaved per round so
 *       the machine's noise hits every tool alike; medians and p90 of BENCH_RUNS_RUN (20). Then one more berth
 *       run under strace to show where its time goes.
 * idle: the host memory (Pss) that BENCH_IDLE_N (50) idle `sleep 3600` containers add: their conmons plus
 *       the container processes, berth against podman.
 *
 * Every tool works in private directories under the bench's work dir. What a peer cannot be told to keep
 * private (podman's runc state in /run/runc, netavark's /run/containers/networks, dockerd's /run/docker/plugins
 * and containerd's /run/containerd/s) is removed afterwards only if it did not exist before and is empty.
 * A host check at the end compares mounts, netns, links, firewall rules, cgroups and processes with the
 * state before and prints what differs.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, watch, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { busyboxImage, toDockerArchive, toOciArchive, type Layout } from "../test/helpers/fixtures.js";

const BERTH = resolve(import.meta.dirname, "../../bin/berth");
const IMAGE = "busybox:latest";
/** docker.io's own client: /usr/local/bin may hold a newer static CLI that would negotiate the API down. */
const DOCKER_CLI = existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

// ---------------------------------------------------------------------------------------------------------
// Small helpers

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
};

/**
 * Wall time of one command in ms. Measured here with a monotonic clock rather than /usr/bin/time, whose %e
 * has 10 ms resolution: too coarse for commands that take tens of ms. spawnSync's own cost is the same for
 * every tool.
 */
function timedMs(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 << 20, timeout: 120_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || "").slice(-2000)}`);
  return ms;
}

function must(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 300_000): string {
  const r = spawnSync(cmd, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20, timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || "").slice(-2000)}`);
  return r.stdout;
}

/** Best effort (cleanup paths): never throws, bounded in time. */
function quiet(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 120_000): number | null {
  return spawnSync(cmd, args, { env, stdio: "ignore", timeout }).status;
}

function ls(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readOr(path: string, dflt = ""): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return dflt;
  }
}

const pids = () => ls("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
const cmdline = (pid: number) => readOr(`/proc/${pid}/cmdline`).replace(/\0/g, " ").trim();
const comm = (pid: number) => readOr(`/proc/${pid}/comm`).trim();
const ppid = (pid: number) => Number(/^PPid:\s+(\d+)/m.exec(readOr(`/proc/${pid}/status`))?.[1] ?? -1);

/** Processes other than this one whose command line mentions dir. */
function processesMentioning(dir: string): number[] {
  return pids().filter((p) => p !== process.pid && cmdline(p).includes(dir));
}

function killAll(ps: number[]): void {
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

function umountUnder(dir: string): void {
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
async function removeCgroupEverywhere(rel: string): Promise<void> {
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

/**
 * Memory (KiB) of one process from smaps_rollup: Pss (its fair share of shared pages), Rss, and Uss (pages
 * only it maps: what removing it gives back). Falls back to VmRSS for all three.
 */
function memKiB(pid: number): { pss: number; rss: number; uss: number } {
  const r = readOr(`/proc/${pid}/smaps_rollup`);
  const field = (f: string) => {
    const m = new RegExp(`^${f}:\\s+(\\d+) kB`, "m").exec(r);
    return m ? Number(m[1]) : undefined;
  };
  const pss = field("Pss");
  const rss = field("Rss");
  if (pss !== undefined && rss !== undefined) return { pss, rss, uss: (field("Private_Clean") ?? 0) + (field("Private_Dirty") ?? 0) };
  const vm = Number(/^VmRSS:\s+(\d+) kB/m.exec(readOr(`/proc/${pid}/status`))?.[1] ?? 0);
  return { pss: vm, rss: vm, uss: vm };
}

function descendants(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const p of pids()) {
    const pp = ppid(p);
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const out: number[] = [];
  const stack = roots.flatMap((r) => children.get(r) ?? []);
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
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
  "/etc/containers/networks",
  "/run/docker/plugins", // dockerd
  "/run/docker",
  "/run/containerd/s", // containerd shims' sockets
  "/run/containerd",
  "/etc/docker/key.json", // dockerd 20.10's trust key, unless deprecated-key-path says otherwise
  "/var/lib/docker",
  "/var/lib/containers/storage",
];

interface HostState {
  mounts: Set<string>;
  netns: Set<string>;
  links: Set<string>;
  iptables: Set<string>;
  nft: Set<string>;
  cgroups: Set<string>;
  paths: Set<string>;
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

function hostState(): HostState {
  return {
    mounts: new Set(mountPoints()),
    netns: new Set(ls("/run/netns")),
    links: new Set(
      spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
        .stdout.split("\n")
        .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
        .filter((x): x is string => !!x),
    ),
    iptables: ruleLines("iptables-save", []),
    nft: ruleLines("nft", ["list", "ruleset"]),
    cgroups: new Set(cgroupDirs(3)),
    paths: new Set(GLOBAL_PATHS.filter((p) => existsSync(p))),
  };
}

/** Remove the global dirs the peers created during the bench (absent before, empty now). */
function removeNewGlobalPaths(before: HostState): void {
  for (const p of GLOBAL_PATHS) {
    if (before.paths.has(p) || !existsSync(p)) continue;
    try {
      if (p.endsWith("key.json")) rmSync(p);
      else rmdirSync(p); // only if empty: anything inside belongs to someone
    } catch {
      /* not empty: reported by the host check */
    }
  }
}

/**
 * What differs from `before`, one line each. Other engineers share this host: changes that cannot be ours
 * (berth containers of other roots) are filtered; what remains is listed with where it is.
 */
function hostDiff(before: HostState, work: string, ours: RegExp): string[] {
  const after = hostState();
  const out: string[] = [];
  const added = (k: keyof HostState) => [...after[k]].filter((x) => !before[k].has(x));
  for (const m of added("mounts")) if (m.startsWith(work) || ours.test(m)) out.push(`mount ${m}`);
  for (const n of added("netns")) out.push(`netns ${n} (may be another test's)`);
  for (const l of added("links")) out.push(`link ${l} (may be another test's)`);
  for (const r of added("iptables")) out.push(`iptables: ${r}`);
  for (const r of added("nft")) out.push(`nft: ${r}`);
  for (const c of added("cgroups")) if (ours.test(c)) out.push(`cgroup ${c}`);
  for (const c of cgroupsNamed(berthIds)) out.push(`cgroup ${c} (a berth container of the bench)`);
  for (const p of added("paths")) out.push(`path ${p}`);
  for (const p of processesMentioning(work)) out.push(`process ${p} (${comm(p)}): ${cmdline(p).slice(0, 160)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The image, once per bench

interface Fixture {
  layout: Layout;
  oci: string;
  docker: string;
}

async function fixture(dir: string): Promise<Fixture> {
  const layout = await busyboxImage(join(dir, "layout"));
  const oci = join(dir, "busybox-oci.tar");
  const docker = join(dir, "busybox-docker.tar");
  await toOciArchive(layout, oci, IMAGE);
  await toDockerArchive(layout, docker, IMAGE);
  return { layout, oci, docker };
}

/** The image's root filesystem unpacked into dir (the runc bundle's rootfs). */
function unpackRootfs(layout: Layout, dir: string): void {
  const blob = (d: string) => join(layout.dir, "blobs", ...d.split(":"));
  const index = JSON.parse(readFileSync(join(layout.dir, "index.json"), "utf8")) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), "utf8")) as { layers: { digest: string }[] };
  mkdirSync(dir, { recursive: true });
  for (const l of manifest.layers) must("tar", ["-xf", blob(l.digest), "-C", dir]);
}

// ---------------------------------------------------------------------------------------------------------
// Tools. Each prepares a private store, loads the image, and knows how to run once and clean up.

interface Tool {
  name: string;
  /** Human-readable command line of one timed run. */
  describe: string;
  runOnce(): number;
  cleanup(): Promise<void>;
}

/** Ids of every berth container of the bench (even `run --rm` ones), for the host check's cgroup search. */
const berthIds = new Set<string>();

function berthTool(dir: string, fx: Fixture): Tool & { args: string[] } {
  const args = ["--root", join(dir, "root"), "--runroot", join(dir, "run")];
  mkdirSync(join(dir, "root", "containers"), { recursive: true });
  const watcher = watch(join(dir, "root", "containers"), (_ev, name) => {
    if (name && /^[0-9a-f]{64}$/.test(name)) berthIds.add(name);
  });
  must(BERTH, [...args, "load", "-q", "-i", fx.oci]);
  const run = [...args, "run", "--rm", "--network", "none", IMAGE, "true"];
  return {
    name: "berth",
    args,
    describe: `bin/berth ${run.join(" ")}`,
    runOnce: () => timedMs(BERTH, run),
    cleanup: async () => {
      await sleep(0); // queued inotify events name the last containers
      watcher.close();
      if (existsSync(join(dir, "root"))) quiet(BERTH, [...args, "rm", "-af"]);
      killAll(processesMentioning(dir));
      for (const n of ls(join(dir, "run", "runc"))) quiet("runc", ["--root", join(dir, "run", "runc"), "delete", "-f", n]);
      umountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Podman {
  env: NodeJS.ProcessEnv;
  global: string[];
  cgroupParent: string;
}

function podmanSetup(dir: string): Podman {
  const conf = join(dir, "containers.conf");
  mkdirSync(dir, { recursive: true });
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n[engine]\nevents_logger = "file"\n');
  return {
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
  };
}

async function podmanCleanup(dir: string, p: Podman): Promise<void> {
  if (existsSync(join(dir, "root"))) {
    quiet("podman", [...p.global, "rm", "-af", "-t", "0"], p.env);
    quiet("podman", [...p.global, "system", "reset", "-f"], p.env);
  }
  killAll(processesMentioning(dir));
  umountUnder(dir);
  await removeCgroupEverywhere(p.cgroupParent);
  rmSync(dir, { recursive: true, force: true });
}

function podmanTool(dir: string, fx: Fixture): Tool {
  const p = podmanSetup(dir);
  must("podman", [...p.global, "load", "-q", "-i", fx.oci], p.env);
  const run = [...p.global, "run", "--rm", "--network", "none", "--cgroup-parent", p.cgroupParent, IMAGE, "true"];
  return {
    name: "podman",
    describe: `CONTAINERS_CONF=containers.conf podman ${run.join(" ")}`,
    runOnce: () => timedMs("podman", run, p.env),
    cleanup: () => podmanCleanup(dir, p),
  };
}

/** A private dockerd (and the containerd it starts), for the bench only. */
class Dockerd {
  readonly sock: string;
  readonly cgroupParent = `/berth-bench-docker-${randomBytes(4).toString("hex")}`;
  private child?: ChildProcess;
  private exited = false;
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly dir: string) {
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
    // No --containerd: dockerd starts its own, with its root under data-root and its state under exec-root.
    const args = [
      "--config-file", conf, "--data-root", join(this.dir, "data"), "--exec-root", join(this.dir, "exec"),
      "--pidfile", join(this.dir, "docker.pid"), "-H", `unix://${this.sock}`, "--bridge=none", "--iptables=false",
      "--ip6tables=false", "--ip-masq=false", "--storage-driver", "overlay2", "--exec-opt", "native.cgroupdriver=cgroupfs",
      "--cgroup-parent", this.cgroupParent,
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
    umountUnder(this.dir);
    await removeCgroupEverywhere(this.cgroupParent);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function dockerTool(d: Dockerd, fx: Fixture): Tool {
  must(DOCKER_CLI, [...d.cli, "load", "-q", "-i", fx.docker], d.env);
  const run = [...d.cli, "run", "--rm", "--network", "none", IMAGE, "true"];
  return {
    name: "docker",
    describe: `${DOCKER_CLI} ${run.join(" ")}   (dockerd ${d.version()}, started by the bench)`,
    runOnce: () => timedMs(DOCKER_CLI, run, d.env),
    cleanup: () => d.stop(),
  };
}

function runcTool(dir: string, fx: Fixture): Tool {
  const bundle = join(dir, "bundle");
  const state = join(dir, "state");
  unpackRootfs(fx.layout, join(bundle, "rootfs"));
  must("runc", ["spec", "--bundle", bundle]);
  const cfgPath = join(bundle, "config.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as { process: { terminal: boolean; args: string[] }; linux: { cgroupsPath?: string } };
  cfg.process.terminal = false;
  cfg.process.args = ["true"];
  // The default spec keeps a network namespace (loopback only, like the others' --network none).
  const cgroupParent = `berth-bench-runc-${randomBytes(4).toString("hex")}`;
  cfg.linux.cgroupsPath = `/${cgroupParent}/c`;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  let n = 0;
  return {
    name: "runc",
    describe: `runc --root ${state} run --bundle ${bundle} bench-<n>   (runc spec; terminal false, args [true])`,
    runOnce: () => timedMs("runc", ["--root", state, "run", "--bundle", bundle, `bench-${process.pid}-${n++}`]),
    cleanup: async () => {
      for (const id of ls(state)) quiet("runc", ["--root", state, "delete", "-f", id]);
      await removeCgroupEverywhere(cgroupParent);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// strace of one berth run: where the time goes

interface Exec {
  pid: number;
  t: number;
  path: string;
  argv: string[];
}

function parseTime(s: string): number {
  const [h, m, sec] = s.split(":");
  return (Number(h) * 3600 + Number(m) * 60 + Number(sec)) * 1000;
}

function parseStrace(text: string): { execs: Exec[]; exits: Map<number, number> } {
  const execs: Exec[] = [];
  const exits = new Map<number, number>();
  const pending = new Map<number, Exec>();
  for (const line of text.split("\n")) {
    const m = /^(\d+)\s+(\d\d:\d\d:\d\d\.\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    const t = parseTime(m[2]!);
    const rest = m[3]!;
    const ex = /^execve\("([^"]*)", \[(.*?)\]/.exec(rest);
    if (ex) {
      const e: Exec = { pid, t, path: ex[1]!, argv: [...ex[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!) };
      if (rest.includes("<unfinished ...>")) pending.set(pid, e);
      else if (/\) = 0$/.test(rest)) execs.push(e);
      continue;
    }
    if (rest.startsWith("<... execve resumed>")) {
      const e = pending.get(pid);
      pending.delete(pid);
      if (e && /\) = 0$/.test(rest)) execs.push(e);
      continue;
    }
    // A Go program (runc) may call exit_group from any thread; "+++ exited" names the process itself.
    if ((rest.startsWith("exit_group(") || rest.startsWith("+++ exited")) && !exits.has(pid)) exits.set(pid, t);
  }
  return { execs, exits };
}

/** berth's own step marks (BERTH_TRACE=1), untraced: the time of each step, median of 5 runs. */
function traceBreakdown(berthArgs: string[]): string[] {
  const runs: Map<string, number>[] = [];
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(BERTH, [...berthArgs, "run", "--rm", "--network", "none", IMAGE, "true"], { encoding: "utf8", env: { ...process.env, BERTH_TRACE: "1" }, timeout: 60_000 });
    if (r.status !== 0) return [`step breakdown: n/a (${r.stderr.trim().split("\n").slice(-1)[0]})`];
    const marks = new Map<string, number>();
    for (const m of r.stderr.matchAll(/^\[trace\]\s+([\d.]+) ms (.*)$/gm)) marks.set(m[2]!, Number(m[1]));
    runs.push(marks);
  }
  const steps = [...runs[0]!.keys()];
  const out = ["where berth's time goes (BERTH_TRACE=1 step marks, ms since the process started, median of 5 untraced runs)", "| step | at (ms) | takes (ms) |", "|---|---|---|"];
  let prev = 0;
  for (const step of steps) {
    const at = median(runs.map((m) => m.get(step) ?? NaN).filter((x) => !Number.isNaN(x)));
    out.push(`| ${step} | ${at.toFixed(0)} | ${(at - prev).toFixed(0)} |`);
    prev = at;
  }
  return out;
}

function straceBreakdown(berthArgs: string[], dir: string): string[] {
  const file = join(dir, "berth.strace");
  const r = spawnSync("strace", ["-f", "-tt", "-e", "trace=execve,exit_group", "-o", file, BERTH, ...berthArgs, "run", "--rm", "--network", "none", IMAGE, "true"], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) return [`strace breakdown: n/a (${r.error?.message ?? r.stderr.trim().split("\n").slice(-1)[0]})`];
  const { execs, exits } = parseStrace(readOr(file));
  const first = execs[0];
  if (!first) return ["strace breakdown: n/a (no execve in the trace)"];
  const main = first.pid;
  const name = (e: Exec) => basename(e.path);
  const find = (f: (e: Exec) => boolean, after = 0) => execs.find((e) => e.t >= after && f(e));
  const node = find((e) => e.pid === main && name(e) === "node");
  const firstChild = node && find((e) => e.pid !== main, node.t);
  const mount = find((e) => name(e) === "mount" && e.argv.includes("overlay"));
  const conmon = find((e) => name(e) === "conmon");
  const create = find((e) => name(e) === "runc" && e.argv.includes("create"));
  const start = find((e) => name(e) === "runc" && e.argv.includes("start"));
  const ctr = start && find((e) => e.argv[0] === "true" && name(e) === "true", start.t);
  const del = find((e) => name(e) === "runc" && e.argv.includes("delete"));
  const umount = find((e) => name(e) === "umount");
  const end = exits.get(main);
  const at = (e: Exec | undefined, exit = false) => (e ? (exit ? exits.get(e.pid) : e.t) : undefined);
  const label = (e: Exec) => (e.path === "/proc/self/exe" ? "runc init" : name(e) === "runc" ? `runc ${e.argv.find((a) => ["create", "start", "delete", "init", "kill", "state"].includes(a)) ?? ""}`.trim() : name(e));
  const firstIsMount = mount !== undefined;
  const marks: [string, number | undefined][] = [
    ["bin/berth (sh launcher) → node exec", first.t],
    [`node start, JS load, store open, image lookup, spec → first child (${firstChild ? label(firstChild) : "?"})`, at(node)],
    ...(firstIsMount
      ? ([
          ["mount(8) overlay rootfs", at(mount)],
          ["after mount → conmon exec", at(mount, true)],
        ] as [string, number | undefined][])
      : []),
    ["conmon → runc create exec", at(conmon)],
    ["runc create (runc init: namespaces, rootfs, cgroups)", at(create)],
    ["runc create exited → runc start exec", at(create, true)],
    ["runc start → container's `true` exec", at(start)],
    ["`true` runs", at(ctr)],
    ["container exit → runc delete exec (conmon reaps, exit command, berth wakes)", at(ctr, true)],
    ["runc delete", at(del)],
    [`runc delete exited → berth exits (${umount ? "umount, " : ""}store update, node exit)`, at(del, true)],
    ["end", end],
  ];
  const present: [string, number][] = [];
  for (const m of marks) if (m[1] !== undefined && (!present.length || m[1] >= present[present.length - 1]![1])) present.push([m[0], m[1]]);
  const total = (end ?? present[present.length - 1]![1]) - first.t;
  const lines = [
    `where berth's time goes (one run under strace -f -tt -e trace=execve,exit_group; strace slows every fork/exec, so the total is inflated: read it for the proportions)`,
    "| phase | ms | share |",
    "|---|---|---|",
  ];
  for (let i = 0; i < present.length - 1; i++) {
    const d = present[i + 1]![1] - present[i]![1];
    lines.push(`| ${present[i]![0]} | ${d.toFixed(0)} | ${((d / total) * 100).toFixed(0)}% |`);
  }
  lines.push(`| total (traced) | ${total.toFixed(0)} | 100% |`);
  const missing = marks.filter((m) => m[1] === undefined).map((m) => m[0]);
  if (!mount) lines.push("(no mount(8) exec: berth mounted the rootfs without one)");
  if (missing.length) lines.push(`(not seen in the trace: ${missing.join("; ")})`);
  lines.push(`execs (ms from start): ${execs.map((e) => `${label(e)}@${(e.t - first.t).toFixed(0)}`).join(" ")}${umount ? "" : " (no umount seen)"}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// Benchmark 1: run --rm IMAGE true

const loadLine = () => `load: ${readOr("/proc/loadavg").split(" ").slice(0, 3).join(" ")} (1/5/15 min), ${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} cores`;

export async function benchRun(work: string): Promise<string[]> {
  const runs = Number(process.env.BENCH_RUNS_RUN ?? 20);
  const dir = mkdtempSync(join(work, "run-"));
  const before = hostState();
  const lines: string[] = [];
  const tools: Tool[] = [];
  let dockerNote: string | null = null;
  let berthArgs: string[] = [];
  try {
    const fx = await fixture(dir);
    const b = berthTool(join(dir, "berth"), fx);
    berthArgs = b.args;
    tools.push(b);
    tools.push(podmanTool(join(dir, "podman"), fx));
    const d = new Dockerd(join(dir, "docker"));
    dockerNote = await d.start();
    if (dockerNote === null) tools.push(dockerTool(d, fx));
    else {
      await d.stop();
      log(`docker: n/a (${dockerNote})`);
    }
    tools.push(runcTool(join(dir, "runc"), fx));

    const loadBefore = loadLine();
    // One untimed run each: first-run costs (page cache, lazily created state dirs) are not what we measure.
    for (const t of tools) t.runOnce();
    const samples = new Map<string, number[]>(tools.map((t) => [t.name, []]));
    for (let i = 0; i < runs; i++) {
      // Rotate the order each round as well, so no tool always runs right after the same neighbour.
      for (let j = 0; j < tools.length; j++) {
        const t = tools[(i + j) % tools.length]!;
        samples.get(t.name)!.push(t.runOnce());
      }
      if ((i + 1) % 5 === 0) log(`run --rm: round ${i + 1}/${runs}`);
    }
    const loadAfter = loadLine();
    const med = (n: string) => median(samples.get(n)!);
    const pod = med("podman");
    lines.push(`run --rm ${IMAGE} true, no network, median of ${runs} interleaved rounds (1 warm-up run each, not counted)`);
    lines.push("| tool | median ms | p90 ms | vs podman |", "|---|---|---|---|");
    for (const n of ["berth", "podman", "docker", "runc"]) {
      const s = samples.get(n);
      if (!s) lines.push(`| ${n} | n/a | n/a | n/a |`);
      else lines.push(`| ${n} | ${med(n).toFixed(0)} | ${percentile(s, 90).toFixed(0)} | ${(med(n) / pod).toFixed(2)}x |`);
    }
    if (dockerNote) lines.push(`docker: n/a: ${dockerNote}`);
    const ratio = med("berth") / pod;
    lines.push(`berth/podman = ${ratio.toFixed(2)}x`);
    lines.push(
      `goals: berth median <= 100 ms: ${med("berth") <= 100 ? "MET" : "NOT MET"} (${med("berth").toFixed(0)} ms); berth <= 0.6x podman: ${ratio <= 0.6 ? "MET" : "NOT MET"} (${ratio.toFixed(2)}x)`,
    );
    lines.push(`${loadBefore} before, ${loadAfter} after`);
    lines.push(`samples (ms): ${[...samples].map(([n, s]) => `${n} ${s.map((x) => x.toFixed(0)).join(" ")}`).join("; ")}`);
    lines.push("commands:", ...tools.map((t) => `  ${t.name}: ${t.describe}`));
    lines.push(...traceBreakdown(berthArgs));
    lines.push(...straceBreakdown(berthArgs, dir));
  } finally {
    for (const t of tools) {
      try {
        await t.cleanup();
      } catch (e) {
        log(`cleanup of ${t.name} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    umountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    removeNewGlobalPaths(before);
    const diff = hostDiff(before, work, /berth-bench-|libpod_parent|\/docker$/);
    lines.push(diff.length ? `host check after run bench: ${diff.length} difference(s):\n  ${diff.join("\n  ")}` : "host check after run bench: clean (mounts, netns, links, iptables, nft, cgroups, global dirs, processes)");
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// Benchmark 2: memory per idle container

interface IdleResult {
  perCtrKiB: number;
  conmonKiB: number;
  ctrKiB: number;
  rssPerCtrKiB: number;
  ussPerCtrKiB: number;
  conmons: number;
  ctrProcs: number;
  runMs: number[];
}

/** Pss of the conmons whose command line names `dir`, and of everything below them. */
function measureIdle(dir: string, n: number, runMs: number[]): IdleResult {
  const conmons = pids().filter((p) => comm(p) === "conmon" && cmdline(p).includes(dir));
  const ctrs = descendants(conmons);
  const sum = (ps: number[], k: "pss" | "rss" | "uss") => ps.reduce((a, p) => a + memKiB(p)[k], 0);
  const conmonPss = sum(conmons, "pss");
  const ctrPss = sum(ctrs, "pss");
  return {
    perCtrKiB: (conmonPss + ctrPss) / n,
    conmonKiB: conmonPss / n,
    ctrKiB: ctrPss / n,
    rssPerCtrKiB: (sum(conmons, "rss") + sum(ctrs, "rss")) / n,
    ussPerCtrKiB: (sum(conmons, "uss") + sum(ctrs, "uss")) / n,
    conmons: conmons.length,
    ctrProcs: ctrs.length,
    runMs,
  };
}

const mib = (kib: number) => (kib / 1024).toFixed(2);

/** Node processes (berth) whose command line names dir. */
const nodeProcs = (dir: string) => processesMentioning(dir).filter((p) => comm(p) === "node" || /\bnode\b/.test(cmdline(p).split(" ")[0] ?? ""));

export async function benchIdle(work: string): Promise<string[]> {
  const n = Number(process.env.BENCH_IDLE_N ?? 50);
  const dir = mkdtempSync(join(work, "idle-"));
  const before = hostState();
  const lines: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const fx = await fixture(dir);
    lines.push(`idle containers: ${n} x \`run -d ${IMAGE} sleep 3600\`; host memory they add = Pss (smaps_rollup) of every conmon of the store plus every process below it, / ${n}`);
    lines.push("(Pss shares each shared page among its mappers; Uss = private pages only, what removing one container gives back; Rss counts shared pages in full)");
    lines.push(loadLine());

    // berth
    const bdir = join(dir, "berth");
    const b = berthTool(bdir, fx);
    cleanups.push(b.cleanup);
    const bMs: number[] = [];
    for (let i = 0; i < n; i++) bMs.push(timedMs(BERTH, [...b.args, "run", "-d", "--network", "none", IMAGE, "sleep", "3600"]));
    const nodeAfterRun = nodeProcs(bdir);
    await sleep(1000); // let the monitors settle (and any straggler show itself)
    const br = measureIdle(bdir, n, bMs);
    const nodeLater = nodeProcs(bdir);
    const bRm = timedMs(BERTH, [...b.args, "rm", "-f", ...must(BERTH, [...b.args, "ps", "-aq"]).split("\n").filter(Boolean)]);

    // podman
    let pr: IdleResult | undefined;
    let pRm = 0;
    let podNote = "";
    try {
      const pdir = join(dir, "podman");
      const p = podmanSetup(pdir);
      cleanups.push(() => podmanCleanup(pdir, p));
      must("podman", [...p.global, "load", "-q", "-i", fx.oci], p.env);
      const pMs: number[] = [];
      for (let i = 0; i < n; i++) pMs.push(timedMs("podman", [...p.global, "run", "-d", "--network", "none", "--cgroup-parent", p.cgroupParent, IMAGE, "sleep", "3600"], p.env));
      await sleep(1000);
      pr = measureIdle(pdir, n, pMs);
      pRm = timedMs("podman", [...p.global, "rm", "-f", "-t", "0", "-a"], p.env);
    } catch (e) {
      podNote = `podman: n/a (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
    }

    lines.push("| tool | per container MiB (Pss) | conmon MiB | container procs MiB | per container MiB (Uss) | per container MiB (Rss) | conmons / ctr procs | run -d median ms | rm -f all ms |");
    lines.push("|---|---|---|---|---|---|---|---|---|");
    const row = (name: string, r: IdleResult, rm: number) =>
      `| ${name} | ${mib(r.perCtrKiB)} | ${mib(r.conmonKiB)} | ${mib(r.ctrKiB)} | ${mib(r.ussPerCtrKiB)} | ${mib(r.rssPerCtrKiB)} | ${r.conmons} / ${r.ctrProcs} | ${median(r.runMs).toFixed(0)} | ${rm.toFixed(0)} |`;
    lines.push(row("berth", br, bRm));
    if (pr) lines.push(row("podman", pr, pRm));
    else lines.push(podNote);
    lines.push(`berth idle container: ${mib(br.perCtrKiB)} MiB each (conmon ${mib(br.conmonKiB)} MiB); goal <= 2 MiB: ${br.perCtrKiB <= 2048 ? "MET" : "NOT MET"}`);
    lines.push(`berth (node) processes left naming the bench root after the ${n} \`run -d\` calls returned: ${nodeAfterRun.length} (1 s later: ${nodeLater.length}); goal 0: ${nodeAfterRun.length === 0 && nodeLater.length === 0 ? "MET" : "NOT MET"}`);
    if (br.conmons !== n) lines.push(`note: found ${br.conmons} berth conmons for ${n} containers`);
    lines.push(loadLine());
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        log(`idle cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    umountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    removeNewGlobalPaths(before);
    const diff = hostDiff(before, work, /berth-bench-|libpod_parent/);
    lines.push(diff.length ? `host check after idle bench: ${diff.length} difference(s):\n  ${diff.join("\n  ")}` : "host check after idle bench: clean (mounts, netns, links, iptables, nft, cgroups, global dirs, processes)");
  }
  return lines;
}
