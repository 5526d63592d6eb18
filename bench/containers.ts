/**
 * Container benchmarks for `make bench` (bench/run.ts wires them in; BENCH_ONLY=run / BENCH_ONLY=idle).
 *
 * run:  `run --rm busybox true` without a network, berth against podman, docker (a private dockerd started
 *       for the bench only) and bare `runc run` on a prepared bundle (the floor). Interleaved per round so
 *       the machine's noise hits every tool alike; medians and p90 of BENCH_RUNS_RUN (20). Then berth's own
 *       step marks and one more berth run under strace to show where its time goes.
 * idle: the host memory (Pss) that BENCH_IDLE_N (50) idle `sleep 3600` containers add: their conmons plus
 *       the container processes, berth against podman.
 *
 * Every tool works in private directories under the bench's work dir (bench/peers.ts: the tools, the host
 * check and what is undone afterwards).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { straceBreakdown, traceBreakdown } from "./breakdown.js";
import {
  BERTH, IMAGE, Dockerd, afterBench, berthStore, berthTool, cmdline, comm, dockerTool, fixture, hostState, interleave, loadLine, log, ls,
  median, must, pids, podmanCleanup, podmanLoad, podmanSetup, podmanTool, ppid, processesMentioning, readOr, removeCgroupEverywhere,
  quiet, runCleanups, sampleTable, samplesLine, timedMs, type Fixture, type Tool,
} from "./peers.js";
import type { Layout } from "../test/helpers/fixtures.js";

// ---------------------------------------------------------------------------------------------------------
// Memory of idle containers

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
// Bare runc: the floor

/** The image's root filesystem unpacked into dir (the runc bundle's rootfs). */
function unpackRootfs(layout: Layout, dir: string): void {
  const blob = (d: string) => join(layout.dir, "blobs", ...d.split(":"));
  const index = JSON.parse(readFileSync(join(layout.dir, "index.json"), "utf8")) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), "utf8")) as { layers: { digest: string }[] };
  mkdirSync(dir, { recursive: true });
  for (const l of manifest.layers) must("tar", ["-xf", blob(l.digest), "-C", dir]);
}

function runcTool(dir: string, fx: Fixture): Tool & { cleanup(): Promise<void> } {
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
// Benchmark 1: run --rm IMAGE true

export async function benchRun(work: string): Promise<string[]> {
  const runs = Number(process.env.BENCH_RUNS_RUN ?? 20);
  const dir = mkdtempSync(join(work, "run-"));
  const before = hostState();
  const lines: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const tools: Tool[] = [];
  let dockerNote: string | null = null;
  try {
    const fx = await fixture(dir);
    const b = berthStore(join(dir, "berth"), fx);
    cleanups.push(b.cleanup);
    tools.push(berthTool(b, "berth", ["--network", "none"]));
    const p = podmanSetup(join(dir, "podman"));
    cleanups.push(() => podmanCleanup(p));
    podmanLoad(p, fx);
    tools.push(podmanTool(p, "podman", ["--network", "none"]));
    const d = new Dockerd(join(dir, "docker"));
    cleanups.push(() => d.stop());
    dockerNote = await d.start();
    if (dockerNote === null) {
      d.load(fx);
      tools.push(dockerTool(d, "docker", ["--network", "none"]));
    } else log(`docker: n/a (${dockerNote})`);
    const r = runcTool(join(dir, "runc"), fx);
    cleanups.push(r.cleanup);
    tools.push(r);

    const loadBefore = loadLine();
    const samples = interleave(tools, runs, "run --rm");
    const loadAfter = loadLine();
    const med = (n: string) => median(samples.get(n)!);
    lines.push(`run --rm ${IMAGE} true, no network, median of ${runs} interleaved rounds (1 warm-up run each, not counted)`);
    lines.push(...sampleTable(samples, ["berth", "podman", "docker", "runc"], "podman"));
    if (dockerNote) lines.push(`docker: n/a: ${dockerNote}`);
    const ratio = med("berth") / med("podman");
    lines.push(`berth/podman = ${ratio.toFixed(2)}x`);
    lines.push(
      `goals: berth median <= 100 ms: ${med("berth") <= 100 ? "MET" : "NOT MET"} (${med("berth").toFixed(0)} ms); berth <= 0.6x podman: ${ratio <= 0.6 ? "MET" : "NOT MET"} (${ratio.toFixed(2)}x)`,
    );
    lines.push(`${loadBefore} before, ${loadAfter} after`);
    lines.push(samplesLine(samples));
    lines.push("commands:", ...tools.map((t) => `  ${t.name}: ${t.describe}`));
    lines.push(...traceBreakdown([{ label: "none", berthArgs: b.args, runArgs: ["--network", "none"] }]));
    lines.push(...straceBreakdown(b.args, ["--network", "none"], dir));
  } finally {
    await runCleanups(cleanups, "run");
    lines.push(...afterBench("run bench", work, dir, before, /berth-bench-|libpod_parent|\/docker$/));
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
    const b = berthStore(bdir, fx);
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
      cleanups.push(() => podmanCleanup(p));
      podmanLoad(p, fx);
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
    await runCleanups(cleanups, "idle");
    lines.push(...afterBench("idle bench", work, dir, before, /berth-bench-|libpod_parent/));
  }
  return lines;
}
