/**
 * Ring labs for `make bench` (bench/run.ts wires them in; BENCH_ONLY=labs), issue 5's benchmark.
 *
 * A ring of N busybox nodes (BENCH_LAB_SIZES, default 10,50,200): n1..nN, links n_i:eth1 <-> n_{i+1}:eth2,
 * the last one wrapping to n1. berth deploys it from a manifest with `berth lab up` and removes it with
 * `berth lab destroy`; the podman equivalent is what a user scripting podman would write: N `podman run -d`
 * (4 at a time, as berth starts 4 nodes at a time), one `podman inspect` for the pids, then a shell script
 * of `ip link add ... netns PID type veth peer ... netns PID` and `ip link set up` per link; `podman rm -f`
 * of all of them removes everything (the veths die with the netns). Both get a management network: berth's
 * lab bridge (v4 + v6 per node, /etc/hosts of all nodes), podman's a netavark bridge network (v4 only, no
 * DNS: the cheapest podman setup that still gives each node a management address).
 *
 * Wall time and peak RSS of each step (GNU time's %M). berth is one CLI process; podman's side is many
 * processes, and its peak is the largest single one (with 4 `podman run` at once, the podman CLIs hold
 * about 4x that at a time; conmon and the containers are left out on both sides). berth's progress lines
 * (one per node and step, stderr, not a TTY) are timestamped as they arrive: they give the phases of each
 * `up` and `destroy` without a second run.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BERTH, IMAGE, benchTag, berthStore, firewallSnapshot, fixture, freeSubnets24, hostCheckLine, hostDiff, hostState, loadLine, log, must,
  podmanCleanup, podmanLoad, podmanSetup, pool, removeNewGlobalPaths, restoreSysctls, sysctlSnapshot, umountUnder, undoFirewall,
  type BerthStore, type Podman,
} from "./peers.js";

/** Nodes started at once: berth's default for `lab up`, and the podman side's bound. */
const PAR = 4;

/**
 * Pause before each tool's run. The kernel frees a removed lab's netns and veths in the background for
 * seconds after `destroy` or `rm` has returned: without a pause that work lands on whichever tool runs next.
 */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_S ?? 20) * 1000;
const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));

interface Timed {
  ms: number;
  rssKiB: number;
  stdout: string;
  /** stderr lines with the ms since the spawn at which each arrived (GNU time's own line removed). */
  lines: { ms: number; text: string }[];
}

/** One command under GNU time, async (so that several can run at once), its stderr lines timestamped. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "BENCH-TIME %M", cmd, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    const lines: { ms: number; text: string }[] = [];
    let stdout = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      const ms = performance.now() - t0;
      const parts = (partial + d).split("\n");
      partial = parts.pop()!;
      for (const text of parts) lines.push({ ms, text });
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 900_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      if (partial) lines.push({ ms, text: partial });
      let i = lines.length - 1;
      while (i >= 0 && !lines[i]!.text.startsWith("BENCH-TIME ")) i--;
      const rssKiB = i >= 0 ? Number(lines[i]!.text.split(" ")[1]) : NaN;
      if (i >= 0) lines.splice(i, 1);
      if (code !== 0) reject(new Error(`${cmd} ${args.slice(0, 12).join(" ")}${args.length > 12 ? " ..." : ""} failed (${code}): ${lines.slice(-5).map((l) => l.text).join("\n")}`));
      else resolve({ ms, rssKiB, stdout, lines });
    });
  });
}

const ringLinks = (n: number): [number, number][] => Array.from({ length: n }, (_, i) => [i + 1, ((i + 1) % n) + 1]);

function ringManifest(name: string, n: number): string {
  const nodes = Array.from({ length: n }, (_, i) => `  n${i + 1}: {}`).join("\n");
  const links = ringLinks(n).map(([a, b]) => `  - endpoints: [n${a}:eth1, n${b}:eth2]`).join("\n");
  return `name: ${name}\ndefaults: {model: linux, image: "${IMAGE}", cmd: [sleep, "3600"]}\nnodes:\n${nodes}\nlinks:\n${links}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// berth

interface Phase {
  name: string;
  ms: number;
}

/**
 * Phases of a `lab up` from its progress lines: the events are "NODE: create", "wire: ...", "NODE: start",
 * "NODE: ready", in that order per phase (the engine finishes each phase for all nodes before the next).
 */
function upPhases(t: Timed): Phase[] {
  const at = (re: RegExp, last = false) => {
    const hits = t.lines.filter((l) => re.test(l.text));
    return (last ? hits.at(-1) : hits[0])?.ms;
  };
  const marks: [string, number | undefined][] = [
    ["start-up, manifest, plan, image check, management network", at(/^n\d+: create$/)],
    ["create containers (8 at a time), parking netns, each node's netns with eth0 (4 at a time)", at(/^wire: /)],
    ["wire the data links (host batch, then per node)", at(/^n\d+: start$/)],
    ["start nodes (4 at a time)", at(/^n\d+: ready$/, true)],
    ["ssh config, inspect, table, exit", t.ms],
  ];
  return toPhases(marks);
}

function destroyPhases(t: Timed): Phase[] {
  const marks: [string, number | undefined][] = [
    ["start-up, unwiring batch, container list", t.lines.find((l) => /^n\d+: remove$/.test(l.text))?.ms],
    ["remove nodes (8 at a time); until the last one begins", t.lines.filter((l) => /^n\d+: remove$/.test(l.text)).at(-1)?.ms],
    ["last removals, parking netns, management network, state, exit", t.ms],
  ];
  return toPhases(marks);
}

function toPhases(marks: [string, number | undefined][]): Phase[] {
  const out: Phase[] = [];
  let prev = 0;
  for (const [name, at] of marks) {
    if (at === undefined) continue;
    out.push({ name, ms: at - prev });
    prev = at;
  }
  return out;
}

interface Result {
  upMs: number;
  upRssKiB: number;
  downMs: number;
  downRssKiB: number;
  /** What the up is made of: phases (berth) or steps (podman: run, inspect, wiring). */
  upParts: Phase[];
  downParts: Phase[];
  note?: string;
}

async function berthRing(b: BerthStore, dir: string, n: number, tag: string): Promise<Result> {
  const name = `ring${n}-${tag}`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, ringManifest(name, n));
  let up: Timed;
  try {
    up = await timed(BERTH, [...b.args, "lab", "up", file]);
  } catch (e) {
    await timed(BERTH, [...b.args, "lab", "destroy", name]).catch(() => undefined);
    throw e;
  }
  const view = must(BERTH, [...b.args, "lab", "inspect", "--format", "json", name]);
  const nodes = (JSON.parse(view) as { nodes: { state: string; mgmtIpv4?: string; mgmtIpv6?: string }[] }).nodes;
  const running = nodes.filter((x) => x.state === "running" && x.mgmtIpv4 && x.mgmtIpv6).length;
  const down = await timed(BERTH, [...b.args, "lab", "destroy", name]);
  const left = must(BERTH, [...b.args, "ps", "-aq"]).trim();
  if (left) throw new Error(`berth lab destroy ${name} left containers: ${left.split("\n").length}`);
  return {
    upMs: up.ms,
    upRssKiB: up.rssKiB,
    downMs: down.ms,
    downRssKiB: down.rssKiB,
    upParts: upPhases(up),
    downParts: destroyPhases(down),
    ...(running !== n ? { note: `berth: only ${running} of ${n} nodes running with v4+v6 management addresses` } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// podman + ip

/** The ring's links as a user would script them once the containers run: one `ip` process per command. */
function wiringScript(pidOf: (node: number) => number, n: number): string {
  const lines = ["set -e"];
  for (const [a, b] of ringLinks(n)) {
    const pa = pidOf(a);
    const pb = pidOf(b);
    lines.push(
      `ip link add eth1 netns ${pa} mtu 9500 type veth peer name eth2 netns ${pb} mtu 9500`,
      `nsenter -t ${pa} -n ip link set eth1 up`,
      `nsenter -t ${pb} -n ip link set eth2 up`,
    );
  }
  return lines.join("\n") + "\n";
}

async function podmanRing(p: Podman, dir: string, n: number, tag: string, net: string): Promise<Result> {
  const names = Array.from({ length: n }, (_, i) => `ring${n}-${tag}-n${i + 1}`);
  const rm = () => timed("podman", [...p.global, "rm", "-f", "-t", "0", ...names], p.env);
  const t0 = performance.now();
  let runPeak = 0;
  let inspect: Timed;
  let wire: Timed;
  let tRun = 0;
  try {
    await pool(n, PAR, async (i) => {
      const r = await timed(
        "podman",
        [...p.global, "run", "-d", "--name", names[i]!, "--hostname", `n${i + 1}`, "--network", net, "--cap-add", "NET_ADMIN,NET_RAW", "--cgroup-parent", p.cgroupParent, IMAGE, "sleep", "3600"],
        p.env,
      );
      runPeak = Math.max(runPeak, r.rssKiB);
    });
    tRun = performance.now() - t0;
    inspect = await timed("podman", [...p.global, "inspect", "-f", "{{.State.Pid}}", ...names], p.env);
    const pids = inspect.stdout.trim().split("\n").map(Number);
    if (pids.length !== n || pids.some((x) => !(x > 0))) throw new Error(`podman inspect: ${pids.length} pids for ${n} containers`);
    const script = join(dir, `ring${n}-${tag}.sh`);
    writeFileSync(script, wiringScript((k) => pids[k - 1]!, n));
    wire = await timed("sh", [script]);
  } catch (e) {
    await rm().catch(() => undefined);
    throw e;
  }
  const upMs = performance.now() - t0;
  const down = await rm();
  const left = must("podman", [...p.global, "ps", "-aq"], p.env).trim();
  if (left) throw new Error(`podman rm -f left containers: ${left.split("\n").length}`);
  return {
    upMs,
    upRssKiB: Math.max(runPeak, inspect.rssKiB, wire.rssKiB),
    downMs: down.ms,
    downRssKiB: down.rssKiB,
    upParts: [
      { name: `podman run -d (${PAR} at a time)`, ms: tRun },
      { name: "podman inspect (pids)", ms: inspect.ms },
      { name: `wiring script (${n} ip link add, ${2 * n} nsenter ip link set up)`, ms: wire.ms },
    ],
    downParts: [{ name: "podman rm -f -t 0 (all)", ms: down.ms }],
  };
}

// ---------------------------------------------------------------------------------------------------------

const s = (ms: number) => (ms / 1000).toFixed(1);
const mib = (kib: number) => (kib / 1024).toFixed(0);

export async function benchLabs(work: string): Promise<string[]> {
  const sizes = (process.env.BENCH_LAB_SIZES ?? "10,50,200").split(",").map(Number);
  const dir = mkdtempSync(join(work, "labs-"));
  const before = hostState();
  const fw = firewallSnapshot();
  const sys = sysctlSnapshot();
  const tag = benchTag();
  const [podSubnet] = freeSubnets24(1) as [string];
  const podNet = "labmgmt";
  const podBridge = `plm${tag}`;
  const lines: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const results: { n: number; berth: Result; podman: Result | string; loadBefore: string; loadAfter: string }[] = [];
  try {
    const fx = await fixture(dir);
    // default: none keeps berth's default network (a host-wide bridge) out of it; the labs make their own.
    const b = berthStore(join(dir, "berth"), fx, { defaultBridge: `blb${tag}`, nftTable: `berth_bench_${tag}`, defaultNetwork: "none" });
    cleanups.push(b.cleanup);
    const p = podmanSetup(join(dir, "podman"), [{ name: podNet, iface: podBridge, subnet: podSubnet }]);
    cleanups.push(() => podmanCleanup(p));
    podmanLoad(p, fx);
    for (const n of sizes) {
      await settle();
      const loadBefore = loadLine();
      log(`labs: ring of ${n}, berth`);
      const br = await berthRing(b, dir, n, tag);
      log(`labs: ring of ${n}, berth up ${s(br.upMs)} s, destroy ${s(br.downMs)} s; podman + ip`);
      let pr: Result | string;
      try {
        await settle();
        pr = await podmanRing(p, dir, n, tag, podNet);
        log(`labs: ring of ${n}, podman up ${s(pr.upMs)} s, rm ${s(pr.downMs)} s`);
      } catch (e) {
        pr = `n/a (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
        log(`labs: ring of ${n}, podman ${pr}`);
      }
      results.push({ n, berth: br, podman: pr, loadBefore, loadAfter: loadLine() });
    }

    lines.push(`ring labs: N busybox nodes (sleep 3600), N point-to-point links n_i:eth1 <-> n_i+1:eth2 (MTU 9500), a management network; one run each, berth first, ${SETTLE_MS / 1000} s pause before each`);
    lines.push(
      "| nodes | berth up (s) | podman+ip up (s) | up berth/podman | berth destroy (s) | podman rm -f (s) | destroy berth/podman | berth peak RSS up / destroy (MiB) | podman peak RSS up / rm (MiB) |",
      "|---|---|---|---|---|---|---|---|---|",
    );
    for (const r of results) {
      const pr = typeof r.podman === "string" ? undefined : r.podman;
      lines.push(
        `| ${r.n} | ${s(r.berth.upMs)} | ${pr ? s(pr.upMs) : "n/a"} | ${pr ? `${(r.berth.upMs / pr.upMs).toFixed(2)}x` : "n/a"} | ${s(r.berth.downMs)} | ${pr ? s(pr.downMs) : "n/a"} | ${pr ? `${(r.berth.downMs / pr.downMs).toFixed(2)}x` : "n/a"} | ${mib(r.berth.upRssKiB)} / ${mib(r.berth.downRssKiB)} | ${pr ? `${mib(pr.upRssKiB)} / ${mib(pr.downRssKiB)}` : "n/a"} |`,
      );
    }
    const big = results.find((r) => r.n === 200);
    if (big) {
      lines.push(
        `goals (200 nodes): up <= 20 s: ${big.berth.upMs <= 20_000 ? "MET" : "NOT MET"} (${s(big.berth.upMs)} s); destroy <= 10 s: ${big.berth.downMs <= 10_000 ? "MET" : "NOT MET"} (${s(big.berth.downMs)} s)`,
      );
    }
    for (const r of results) {
      lines.push(`ring of ${r.n}: ${r.loadBefore} before, ${r.loadAfter} after`);
      const fmt = (ps: Phase[]) => ps.map((x) => `${x.name} ${s(x.ms)}`).join("; ");
      lines.push(`  berth up: ${fmt(r.berth.upParts)}`, `  berth destroy: ${fmt(r.berth.downParts)}`);
      if (r.berth.note) lines.push(`  ${r.berth.note}`);
      if (typeof r.podman === "string") lines.push(`  podman: ${r.podman}`);
      else lines.push(`  podman up: ${fmt(r.podman.upParts)}`, `  podman rm: ${fmt(r.podman.downParts)}`);
    }
    lines.push(
      `commands: bin/berth ${b.args.join(" ")} lab up RING.yaml / lab destroy NAME; podman ${p.global.join(" ")} run -d --name NAME --hostname nI --network ${podNet} --cap-add NET_ADMIN,NET_RAW --cgroup-parent P ${IMAGE} sleep 3600 (${PAR} at a time), inspect -f {{.State.Pid}}, rm -f -t 0 NAME...; sh WIRING.sh`,
    );
    lines.push(`peak RSS: berth = the CLI process (GNU time %M); podman = the largest single process of the step (each podman CLI, the wiring shell and its ip/nsenter children); ${PAR} podman CLIs run at once`);
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        log(`labs cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    umountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    removeNewGlobalPaths(before);
    const fwOurs = new RegExp(["NETAVARK", tag, podSubnet.replace(/\./g, "\\.")].join("|"));
    const undone = [...undoFirewall(fw, fwOurs), ...restoreSysctls(sys)];
    if (undone.length) lines.push(`undone after labs bench: ${undone.join("; ")}`);
    lines.push(hostCheckLine("labs bench", hostDiff(before, work, new RegExp(`berth-bench-|libpod_parent|${tag}`))));
  }
  return lines;
}
