/**
 * Where berth's time goes in one `run --rm`: its own step marks (BERTH_TRACE=1, untraced) and one run under
 * strace (every process it starts, with times).
 */
import { spawnSync } from "node:child_process";
import { join, basename } from "node:path";
import { BERTH, IMAGE, median, readOr } from "./peers.js";

/** One variant of `run --rm` to trace: a column of the step table. */
export interface TraceVariant {
  label: string;
  /** Global flags (store, config). */
  berthArgs: string[];
  /** Flags of `run` before the image. */
  runArgs: string[];
}

/** berth's step marks (BERTH_TRACE=1) of one command: step -> ms since the process started; a string says why not. */
export function traceOnce(args: string[]): Map<string, number> | string {
  const r = spawnSync(BERTH, args, { encoding: "utf8", env: { ...process.env, BERTH_TRACE: "1" }, timeout: 60_000 });
  if (r.status !== 0) return r.stderr.trim().split("\n").slice(-1)[0] ?? `exit ${r.status}`;
  const marks = new Map<string, number>();
  for (const m of r.stderr.matchAll(/^\[trace\]\s+([\d.]+) ms (.*)$/gm)) marks.set(m[2]!, Number(m[1]));
  return marks;
}

/** berth's step marks for one variant of `run --rm`, median of `n` runs. */
function traceSteps(v: TraceVariant, n: number): Map<string, number> | string {
  const runs: Map<string, number>[] = [];
  for (let i = 0; i < n; i++) {
    const marks = traceOnce([...v.berthArgs, "run", "--rm", ...v.runArgs, IMAGE, "true"]);
    if (typeof marks === "string") return marks;
    runs.push(marks);
  }
  const out = new Map<string, number>();
  for (const step of runs[0]!.keys()) out.set(step, median(runs.map((m) => m.get(step) ?? NaN).filter((x) => !Number.isNaN(x))));
  return out;
}

/**
 * Step marks side by side: per column, when each step ends and how long it takes. With two columns or
 * more, the last column is what the first one's step takes more than the second's.
 */
export function traceTable(cols: { label: string; marks: Map<string, number> }[]): string[] {
  const steps = [...new Set(cols.flatMap((c) => [...c.marks.keys()]))];
  const takes = cols.map((c) => {
    const t = new Map<string, number>();
    let prev = 0;
    for (const step of steps) {
      const at = c.marks.get(step);
      if (at === undefined) continue;
      t.set(step, at - prev);
      prev = at;
    }
    return t;
  });
  const diff = cols.length > 1;
  const fmt = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(0));
  const out = [
    `| step | ${cols.map((c) => `${c.label}: at (ms) | ${c.label}: takes (ms)`).join(" | ")}${diff ? ` | ${cols[0]!.label} - ${cols[1]!.label} (ms)` : ""} |`,
    `|---|${cols.map(() => "---|---|").join("")}${diff ? "---|" : ""}`,
  ];
  for (const step of steps) {
    const d = diff && takes[0]!.has(step) && takes[1]!.has(step) ? takes[0]!.get(step)! - takes[1]!.get(step)! : undefined;
    out.push(`| ${step} | ${cols.map((c, i) => `${fmt(c.marks.get(step))} | ${fmt(takes[i]!.get(step))}`).join(" | ")}${diff ? ` | ${d === undefined ? "-" : `${d >= 0 ? "+" : ""}${d.toFixed(0)}`}` : ""} |`);
  }
  return out;
}

/** berth's own step marks (BERTH_TRACE=1), untraced, for each variant of `run --rm`: median of `n` runs each. */
export function traceBreakdown(variants: TraceVariant[], n = 5): string[] {
  const cols: { label: string; marks: Map<string, number> }[] = [];
  for (const v of variants) {
    const marks = traceSteps(v, n);
    if (typeof marks === "string") return [`step breakdown: n/a (${v.label}: ${marks})`];
    cols.push({ label: v.label, marks });
  }
  return [`where berth's time goes (BERTH_TRACE=1 step marks, ms since the process started, median of ${n} untraced runs each)`, ...traceTable(cols)];
}

// ---------------------------------------------------------------------------------------------------------
// strace of one berth run: every process it starts

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

export function straceBreakdown(berthArgs: string[], runArgs: string[], dir: string): string[] {
  const file = join(dir, "berth.strace");
  const r = spawnSync("strace", ["-f", "-tt", "-e", "trace=execve,exit_group", "-o", file, BERTH, ...berthArgs, "run", "--rm", ...runArgs, IMAGE, "true"], { encoding: "utf8", timeout: 120_000 });
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
  // On a bridge: the netns (unshare), its host side (ip -batch) and its inside (nsenter ip -batch), before conmon.
  const netns = find((e) => name(e) === "unshare" && e.argv.some((a) => a.startsWith("--net=")));
  const hostIp = netns && find((e) => name(e) === "ip" && e.argv.includes("-batch") && !execs.some((x) => x.pid === e.pid && name(x) === "nsenter"), netns.t);
  const inNs = netns && find((e) => name(e) === "nsenter", netns.t);
  const end = exits.get(main);
  const at = (e: Exec | undefined, exit = false) => (e ? (exit ? exits.get(e.pid) : e.t) : undefined);
  const label = (e: Exec) => (e.path === "/proc/self/exe" ? "runc init" : name(e) === "runc" ? `runc ${e.argv.find((a) => ["create", "start", "delete", "init", "kill", "state"].includes(a)) ?? ""}`.trim() : name(e));
  const firstIsMount = mount !== undefined;
  const marks: [string, number | undefined][] = [
    ["bin/berth (sh launcher) → node exec", first.t],
    [`node start, JS load, store open, image lookup, spec → first child (${firstChild ? label(firstChild) : "?"})`, at(node)],
    ...(netns
      ? ([
          ["unshare --net: a new netns bound on its file", at(netns)],
          ["unshare exited → ip -batch exec", at(netns, true)],
          ["ip -batch, host side (veth pair, bridge port)", at(hostIp)],
          ["ip exited → nsenter exec", at(hostIp, true)],
          ["nsenter + ip -batch inside the netns (addresses, routes, links up)", at(inNs)],
          ["netns ready → conmon exec (hosts files, spec, bundle)", at(inNs, true)],
        ] as [string, number | undefined][])
      : []),
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
    [`runc delete exited → berth exits (${netns ? "netns teardown: ip -batch, umount; " : umount ? "umount, " : ""}store update, node exit)`, at(del, true)],
    ["end", end],
  ];
  const present: [string, number][] = [];
  for (const m of marks) if (m[1] !== undefined && (!present.length || m[1] >= present[present.length - 1]![1])) present.push([m[0], m[1]]);
  const total = (end ?? present[present.length - 1]![1]) - first.t;
  const lines = [
    `where berth's time goes (\`run --rm ${[...runArgs, IMAGE].join(" ")} true\`, one run under strace -f -tt -e trace=execve,exit_group; strace slows every fork/exec, so the total is inflated: read it for the proportions)`,
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
  // Processes overlap (runc delete and the file removal, for one): each with its own span.
  lines.push("processes berth started (traced): | process | starts at (ms) | runs (ms) |");
  for (const [i, e] of execs.entries()) {
    if (e.pid === main) continue;
    const next = execs.slice(i + 1).find((x) => x.pid === e.pid);
    const stop = next?.t ?? exits.get(e.pid);
    lines.push(`  | ${label(e)}${next ? ` → ${label(next)}` : ""} ${e.argv.slice(1, 4).join(" ")} | ${(e.t - first.t).toFixed(0)} | ${stop === undefined ? "?" : (stop - e.t).toFixed(0)} |`);
  }
  return lines;
}
