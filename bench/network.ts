/**
 * Network benchmarks for `make bench` (bench/run.ts wires them in; BENCH_ONLY=netrun / BENCH_ONLY=attach100).
 *
 * netrun:    `run --rm busybox true` on each tool's DEFAULT bridge network (no --network flag), berth against
 *            podman (netavark) and a private dockerd (its default bridge, iptables on), each also with
 *            `--network none` in the same rounds so that what the bridge costs each tool is read off one run.
 *            Interleaved, medians of BENCH_RUNS_NET (20). Then berth's step marks, bridge against none.
 * attach100: BENCH_ATTACH_N (100) containers started concurrently (BENCH_ATTACH_PAR, 8, CLI processes at a
 *            time) on one user network: total wall time, then every container's addresses from inspect, from
 *            network inspect and from inside its netns, all distinct and inside the subnet; `rm -f` of all
 *            and the network's removal are timed too. berth with `run -d`, berth with `create` + one `start`
 *            of many, and podman with `run -d`.
 *
 * Host-wide names carry a per-run tag: berth's default bridge and nftables table come from a private
 * config, podman's default network is a netavark file in its private network config dir, and dockerd's
 * default bridge is made for it under the tag. What the peers leave behind is undone (bench/peers.ts).
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { straceBreakdown, traceBreakdown, traceOnce, traceTable } from "./breakdown.js";
import {
  BERTH, DOCKER_CLI, IMAGE, Dockerd, afterBench, anyOf, benchTag, berthStore, berthTool, dockerTool, firewallSnapshot, fixture, freeSubnets24,
  hostState, interleave, loadLine, log, median, must, percentile, podmanCleanup, podmanLoad, podmanSetup, podmanTool, pool, readOr,
  runCleanups, sampleTable, samplesLine, sysctlSnapshot, timedMs, v4Inside, type Tool,
} from "./peers.js";

const execFileP = promisify(execFile);

/** eth0's IPv4 address/prefix as a `run --rm ... ip -4 -o addr show eth0` of the tool sees it (n/a: the reason). */
function eth0(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, [...args, IMAGE, "ip", "-4", "-o", "addr", "show", "eth0"], { env, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) return `n/a (${r.stderr.trim().split("\n").slice(-1)[0]})`;
  return /inet (\S+)/.exec(r.stdout)?.[1] ?? "no IPv4 address on eth0";
}

// ---------------------------------------------------------------------------------------------------------
// netrun: run --rm on the default bridge

export async function benchNetRun(work: string): Promise<string[]> {
  const runs = Number(process.env.BENCH_RUNS_NET ?? 20);
  const dir = mkdtempSync(join(work, "net-"));
  const before = hostState();
  const fw = firewallSnapshot();
  const sys = sysctlSnapshot();
  const tag = benchTag();
  const [podSubnet, dockSubnet] = freeSubnets24(2) as [string, string];
  const lines: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const tools: Tool[] = [];
  let dockerNote: string | null = null;
  const none = ["--network", "none"];
  const ours = [tag];
  try {
    const fx = await fixture(dir);
    const b = berthStore(join(dir, "berth"), fx, { defaultBridge: `bnb${tag}`, nftTable: `berth_bench_${tag}` });
    cleanups.push(b.cleanup);
    tools.push(berthTool(b, "berth", []), berthTool(b, "berth (none)", none));
    const p = podmanSetup(join(dir, "podman"), [{ name: "podman", iface: `bnp${tag}`, subnet: podSubnet }]);
    cleanups.push(() => podmanCleanup(p));
    podmanLoad(p, fx);
    tools.push(podmanTool(p, "podman", []), podmanTool(p, "podman (none)", none));
    const d = new Dockerd(join(dir, "docker"), { name: `bnd${tag}`, subnet: dockSubnet });
    cleanups.push(() => d.stop());
    ours.push(p.cgroupParent, d.cgroupParent);
    dockerNote = await d.start();
    if (dockerNote === null) {
      d.load(fx);
      tools.push(dockerTool(d, "docker", []), dockerTool(d, "docker (none)", none));
    } else log(`docker: n/a (${dockerNote})`);

    // Each tool's container really is on its default bridge (berth's default network is made here, on first use).
    const where = [
      `berth: eth0 ${eth0(BERTH, [...b.args, "run", "--rm"])} on bnb${tag} (${JSON.parse(must(BERTH, [...b.args, "network", "inspect", "berth", "--format", "{{json .IPAM.Config}}"])).map((c: { Subnet: string }) => c.Subnet).join(", ")})`,
      `podman: eth0 ${eth0("podman", [...p.global, "run", "--rm", "--cgroup-parent", p.cgroupParent], p.env)} on bnp${tag} (${podSubnet})`,
      ...(dockerNote === null ? [`docker: eth0 ${eth0(DOCKER_CLI, [...d.cli, "run", "--rm"], d.env)} on bnd${tag} (${dockSubnet})`] : []),
    ];
    log(where.join("; "));

    const loadBefore = loadLine();
    const samples = interleave(tools, runs, "netrun");
    const loadAfter = loadLine();
    const med = (n: string) => median(samples.get(n)!);
    lines.push(`run --rm ${IMAGE} true on the default bridge network, median of ${runs} interleaved rounds (1 warm-up run each, not counted); "(none)": the same store with --network none, in the same rounds`);
    lines.push(...sampleTable(samples, ["berth", "podman", "docker", "berth (none)", "podman (none)", "docker (none)"], "podman"));
    if (dockerNote) lines.push(`docker: n/a: ${dockerNote}`);
    const rp = med("berth") / med("podman");
    const rd = samples.has("docker") ? med("berth") / med("docker") : NaN;
    lines.push(`berth/podman = ${rp.toFixed(2)}x; berth/docker = ${Number.isNaN(rd) ? "n/a" : `${rd.toFixed(2)}x`}`);
    lines.push(
      `what the default bridge adds (median bridge - median none): ${["berth", "podman", "docker"]
        .filter((n) => samples.has(n))
        .map((n) => `${n} +${(med(n) - med(`${n} (none)`)).toFixed(0)} ms`)
        .join(", ")}`,
    );
    lines.push(`goals: berth median <= 130 ms: ${med("berth") <= 130 ? "MET" : "NOT MET"} (${med("berth").toFixed(0)} ms); berth <= 0.5x podman: ${rp <= 0.5 ? "MET" : "NOT MET"} (${rp.toFixed(2)}x)`);
    lines.push(`${loadBefore} before, ${loadAfter} after`);
    lines.push(...where);
    lines.push(samplesLine(samples));
    lines.push("commands:", ...tools.map((t) => `  ${t.name}: ${t.describe}`));
    const noConfig = b.args.slice(0, b.args.indexOf("--config"));
    lines.push(
      ...traceBreakdown([
        { label: "bridge", berthArgs: b.args, runArgs: [] },
        { label: "none", berthArgs: b.args, runArgs: none },
        { label: "none, no --config", berthArgs: noConfig, runArgs: none },
      ]),
    );
    lines.push(...straceBreakdown(b.args, [], dir));
  } finally {
    await runCleanups(cleanups, "netrun");
    lines.push(...afterBench("netrun bench", work, dir, before, anyOf(ours), { snapshot: fw, ours: anyOf([tag, podSubnet, dockSubnet]), sysctls: sys }));
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// attach100: many containers on one network at once

interface Addr {
  name: string;
  ip: string;
  mac: string;
}

/** Distinct, inside the subnet, not the gateway, and the same in every source: the problems found. */
function collisions(what: string, n: number, sources: Record<string, Addr[]>, subnet: string, gateway: string): string[] {
  const problems: string[] = [];
  let first: Map<string, string> | undefined;
  for (const [src, addrs] of Object.entries(sources)) {
    if (addrs.length !== n) problems.push(`${what} ${src}: ${addrs.length} addresses for ${n} containers`);
    const byIp = new Map<string, string[]>();
    for (const a of addrs) byIp.set(a.ip, [...(byIp.get(a.ip) ?? []), a.name]);
    for (const [ip, names] of byIp) if (names.length > 1) problems.push(`${what} ${src}: ${ip} held by ${names.join(", ")}`);
    const macs = new Set(addrs.map((a) => a.mac));
    if (macs.size !== addrs.length) problems.push(`${what} ${src}: ${addrs.length - macs.size} duplicate MAC address(es)`);
    for (const a of addrs) {
      if (!v4Inside(a.ip, subnet)) problems.push(`${what} ${src}: ${a.name} has ${a.ip}, outside ${subnet}`);
      if (a.ip === gateway) problems.push(`${what} ${src}: ${a.name} has the gateway's address`);
    }
    const m = new Map(addrs.map((a) => [a.name, a.ip]));
    if (!first) first = m;
    else for (const [name, ip] of m) if (first.get(name) !== ip) problems.push(`${what} ${src}: ${name} ${ip}, but ${first.get(name)} in ${Object.keys(sources)[0]}`);
  }
  return problems;
}

/** Start `n` containers through `start(i)`, `par` at a time: wall time and each call's latency. */
async function concurrently(n: number, par: number, start: (i: number) => Promise<void>): Promise<{ wallMs: number; callMs: number[] }> {
  const callMs: number[] = [];
  const t0 = performance.now();
  await pool(n, par, async (i) => {
    const t = performance.now();
    await start(i);
    callMs.push(performance.now() - t);
  });
  return { wallMs: performance.now() - t0, callMs };
}

const exec = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => execFileP(cmd, args, { env, maxBuffer: 64 << 20, timeout: 300_000 });

/** berth's view of the containers on `net`: inspect, network inspect, and eth0 inside each netns. */
async function berthAddresses(args: string[], net: string, names: string[]): Promise<{ sources: Record<string, Addr[]>; subnet: string; gateway: string; bridgePorts: number; hosts: string }> {
  const ni = JSON.parse(must(BERTH, [...args, "network", "inspect", net]))[0] as {
    IPAM: { Config: { Subnet: string; Gateway: string }[] };
    Options: { bridge: string };
    Containers: Record<string, { Name: string; MacAddress: string; IPv4Address: string }>;
  };
  const cfg = ni.IPAM.Config.find((c) => !c.Subnet.includes(":"))!;
  const ins = JSON.parse(must(BERTH, [...args, "inspect", ...names])) as { Name: string; HostsPath: string; NetworkSettings: { SandboxKey: string; Networks: Record<string, { IPAddress: string; MacAddress: string }> } }[];
  const clean = (s: string) => s.replace(/^\//, "");
  const fromNs: Addr[] = [];
  await pool(ins.length, 8, async (i) => {
    const c = ins[i]!;
    const { stdout } = await exec("nsenter", [`--net=${c.NetworkSettings.SandboxKey}`, "ip", "-j", "addr", "show", "dev", "eth0"]);
    const j = JSON.parse(stdout) as { address: string; addr_info: { family: string; local: string }[] }[];
    fromNs.push({ name: clean(c.Name), ip: j[0]?.addr_info.find((a) => a.family === "inet")?.local ?? "", mac: j[0]?.address ?? "" });
  });
  const ports = JSON.parse(must("ip", ["-j", "link", "show", "master", ni.Options.bridge]) || "[]") as unknown[];
  // Peers rewrite each other's hosts file as they start, concurrently: does every file end up naming everyone?
  const ipOf = new Map(ins.map((c) => [clean(c.Name), c.NetworkSettings.Networks[net]?.IPAddress ?? ""]));
  let complete = 0;
  let missing = 0;
  let wrong = 0;
  for (const c of ins) {
    const seen = new Map<string, string>();
    for (const line of readOr(c.HostsPath).split("\n")) {
      const [ip, ...hn] = line.trim().split(/\s+/);
      for (const h of hn) if (ipOf.has(h)) seen.set(h, ip!);
    }
    const miss = [...ipOf.keys()].filter((h) => h !== clean(c.Name) && !seen.has(h)).length;
    wrong += [...seen].filter(([h, ip]) => ipOf.get(h) !== ip).length;
    missing += miss;
    if (!miss) complete++;
  }
  return {
    sources: {
      "network inspect": Object.values(ni.Containers).map((c) => ({ name: c.Name, ip: c.IPv4Address.split("/")[0]!, mac: c.MacAddress })),
      inspect: ins.map((c) => ({ name: clean(c.Name), ip: c.NetworkSettings.Networks[net]?.IPAddress ?? "", mac: c.NetworkSettings.Networks[net]?.MacAddress ?? "" })),
      "eth0 in its netns": fromNs,
    },
    subnet: cfg.Subnet,
    gateway: cfg.Gateway,
    bridgePorts: ports.length,
    hosts: `/etc/hosts: ${complete} of ${ins.length} name every other container; ${missing} entries missing in all, ${wrong} with a wrong address`,
  };
}

interface AttachResult {
  tool: string;
  /** Starting all n: wall ms, and per-call latency. */
  wallMs: number;
  callMs: number[];
  /** Phases of the same, when there are several (create, start). */
  phases?: string;
  rmMs: number;
  problems: string[];
  summary: string;
}

export async function benchAttach(work: string): Promise<string[]> {
  const n = Number(process.env.BENCH_ATTACH_N ?? 100);
  const par = Number(process.env.BENCH_ATTACH_PAR ?? 8);
  const dir = mkdtempSync(join(work, "att-"));
  const before = hostState();
  const fw = firewallSnapshot();
  const sys = sysctlSnapshot();
  const tag = benchTag();
  const [podSubnet] = freeSubnets24(1) as [string];
  const lines: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const results: AttachResult[] = [];
  const net = "benchnet";
  const names = Array.from({ length: n }, (_, i) => `att${i}`);
  const ours = [tag];
  try {
    const fx = await fixture(dir);
    lines.push(`${n} containers on one user network, started ${par} CLI processes at a time (busybox \`sleep 3600\`); ${loadLine()}`);

    // berth: the network, then n x `run -d`; then the same with n x `create` and two `start` of n/2 each.
    const b = berthStore(join(dir, "berth"), fx, { defaultBridge: `bnb${tag}`, nftTable: `berth_bench_${tag}`, defaultNetwork: "none", bridges: [`bnu${tag}`] });
    cleanups.push(b.cleanup);
    const netCreateMs = timedMs(BERTH, [...b.args, "network", "create", "-o", `bridge=bnu${tag}`, net]);
    // One traced `run -d` alone on the empty network, and one more on the full one (below): what a start
    // costs as the network fills up.
    const probe = (name: string) => traceOnce([...b.args, "run", "-d", "--network", net, "--name", name, IMAGE, "sleep", "3600"]);
    // A store's first container also probes the runtime (~200 ms, once): not the network's cost.
    must(BERTH, [...b.args, "run", "--rm", "--network", "none", IMAGE, "true"]);
    const probeEmpty = probe("probe0");
    must(BERTH, [...b.args, "rm", "-f", "probe0"]);
    let probeFull: Map<string, number> | string = "not run";
    const berthRound = async (tool: string, startAll: () => Promise<{ wallMs: number; callMs: number[]; phases?: string }>) => {
      const r = await startAll();
      const a = await berthAddresses(b.args, net, names);
      const problems = collisions(tool, n, a.sources, a.subnet, a.gateway);
      if (a.bridgePorts !== n) problems.push(`${tool}: ${a.bridgePorts} ports on the bridge for ${n} containers`);
      if (typeof probeFull === "string") {
        probeFull = probe("probe1");
        must(BERTH, [...b.args, "rm", "-f", "probe1"]);
      }
      const rmMs = timedMs(BERTH, [...b.args, "rm", "-f", ...names]);
      const left = must(BERTH, [...b.args, "ps", "-aq"]).trim();
      if (left) problems.push(`${tool}: containers left after rm -f: ${left.split("\n").length}`);
      results.push({ tool, ...r, rmMs, problems, summary: `${new Set(a.sources["inspect"]!.map((x) => x.ip)).size} distinct IPv4 addresses in ${a.subnet} (gateway ${a.gateway}), the same in ${Object.keys(a.sources).join(", ")}; ${a.bridgePorts} veths on the bridge; ${new Set(a.sources["inspect"]!.map((x) => x.mac)).size} distinct MACs; ${a.hosts}` });
      log(`attach100 ${tool}: ${(r.wallMs / 1000).toFixed(1)} s, ${problems.length} problem(s)`);
    };
    await berthRound("berth run -d", () => concurrently(n, par, async (i) => void (await exec(BERTH, [...b.args, "run", "-d", "--network", net, "--name", names[i]!, IMAGE, "sleep", "3600"]))));
    await berthRound("berth create + start", async () => {
      const c = await concurrently(n, par, async (i) => void (await exec(BERTH, [...b.args, "create", "--network", net, "--name", names[i]!, IMAGE, "sleep", "3600"])));
      // One `start` of many starts them 4 at a time in one process: no Node start-up per container.
      const t = performance.now();
      await Promise.all([names.slice(0, n / 2), names.slice(n / 2)].map((part) => exec(BERTH, [...b.args, "start", ...part])));
      const startMs = performance.now() - t;
      return { wallMs: c.wallMs + startMs, callMs: c.callMs, phases: `create ${(c.wallMs / 1000).toFixed(1)} s + 2 parallel \`start\` of ${n / 2} ${(startMs / 1000).toFixed(1)} s` };
    });
    const netRmMs = timedMs(BERTH, [...b.args, "network", "rm", net]);

    // podman: the same network as a netavark file (dns on, as `podman network create` makes it), n x `run -d`.
    try {
      const p = podmanSetup(join(dir, "podman"), [{ name: net, iface: `bnq${tag}`, subnet: podSubnet, dns: true }]);
      cleanups.push(() => podmanCleanup(p));
      ours.push(p.cgroupParent);
      podmanLoad(p, fx);
      const r = await concurrently(n, par, async (i) => void (await exec("podman", [...p.global, "run", "-d", "--network", net, "--cgroup-parent", p.cgroupParent, "--name", names[i]!, IMAGE, "sleep", "3600"], p.env)));
      const ins = JSON.parse(must("podman", [...p.global, "inspect", ...names], p.env)) as { Name: string; NetworkSettings: { Networks: Record<string, { IPAddress: string; MacAddress: string }> } }[];
      const addrs = ins.map((c) => ({ name: c.Name, ip: c.NetworkSettings.Networks[net]?.IPAddress ?? "", mac: c.NetworkSettings.Networks[net]?.MacAddress ?? "" }));
      const gw = podSubnet.replace(/0\/24$/, "1");
      const problems = collisions("podman run -d", n, { inspect: addrs }, podSubnet, gw);
      const rmMs = timedMs("podman", [...p.global, "rm", "-f", "-t", "0", ...names], p.env);
      results.push({ tool: "podman run -d", ...r, rmMs, problems, summary: `${new Set(addrs.map((a) => a.ip)).size} distinct IPv4 addresses in ${podSubnet} (from inspect)` });
      log(`attach100 podman: ${(r.wallMs / 1000).toFixed(1)} s, ${problems.length} problem(s)`);
    } catch (e) {
      lines.push(`podman: n/a (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`);
    }

    lines.push("| tool | start all (s) | per call median / p90 (ms) | rm -f all (s) | collisions |", "|---|---|---|---|---|");
    for (const r of results) {
      lines.push(`| ${r.tool} | ${(r.wallMs / 1000).toFixed(1)}${r.phases ? ` (${r.phases})` : ""} | ${median(r.callMs).toFixed(0)} / ${percentile(r.callMs, 90).toFixed(0)} | ${(r.rmMs / 1000).toFixed(1)} | ${r.problems.length ? `**${r.problems.length} problem(s)**` : "none"} |`);
    }
    const pod = results.find((r) => r.tool.startsWith("podman"));
    if (pod) for (const r of results.filter((x) => x.tool.startsWith("berth"))) lines.push(`${r.tool} / podman: start ${(r.wallMs / pod.wallMs).toFixed(2)}x, rm ${(r.rmMs / pod.rmMs).toFixed(2)}x`);
    lines.push(`berth network create ${netCreateMs.toFixed(0)} ms, network rm ${netRmMs.toFixed(0)} ms`);
    for (const r of results) lines.push(`${r.tool}: ${r.summary}`, ...r.problems.map((p) => `  PROBLEM: ${p}`));
    lines.push(`zero IP collisions: ${results.every((r) => !r.problems.length) ? "yes" : "NO"}; ${loadLine()}`);
    if (typeof probeEmpty === "string" || typeof probeFull === "string") lines.push(`step marks of a lone run -d: n/a (${typeof probeEmpty === "string" ? probeEmpty : probeFull})`);
    else {
      lines.push(`one \`run -d --network ${net}\` alone, traced (BERTH_TRACE=1, ms since the process started): on the empty network, and with the ${n} others on it`);
      lines.push(...traceTable([{ label: `${n} on it`, marks: probeFull }, { label: "empty", marks: probeEmpty }]));
    }
  } finally {
    await runCleanups(cleanups, "attach100");
    lines.push(...afterBench("attach100 bench", work, dir, before, anyOf(ours), { snapshot: fw, ours: anyOf([tag, podSubnet]), sysctls: sys }));
  }
  return lines;
}
