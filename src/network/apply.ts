/**
 * Executors for the link planner: each batch is ONE `ip -batch -` process (inside a netns through
 * `nsenter --net=FILE`), fed on stdin. Failures come back as one line naming the plan line that failed.
 * Also: kernel feature probes (in throwaway namespaces) and per-interface sysctls with restore.
 */
import { readFile, writeFile } from "node:fs/promises";
import { BerthError, type ErrorCode, unavailable } from "../core/errors.js";
import { run } from "../runtime/exec-file.js";
import { type AttachSpec, type BridgeSpec, type LinkPlan, planAttach, planBridge, planBridgeRemoval, planDetach, planRollback } from "./link-plan.js";
import { nsenterArgs } from "./netns.js";

export interface BatchOptions {
  /** Run inside this netns file (nsenter --net=FILE). */
  netnsPath?: string;
  /**
   * Teardown mode: keep going past failing lines (`ip -force`) and treat "Cannot find device" as
   * success, so deleting what is already gone is not an error.
   */
  tolerateMissing?: boolean;
}

/** A failed `ip -batch`: `line` is the 1-based plan line that failed (0 when unknown). */
export class BatchError extends BerthError {
  readonly line: number;
  readonly netnsPath?: string;
  constructor(code: ErrorCode, message: string, line: number, netnsPath?: string) {
    super(code, message);
    this.line = line;
    this.netnsPath = netnsPath;
  }
}

/** One failed batch line as ip(8) reported it. */
interface Failure {
  line: number;
  message: string;
}

/**
 * ip -batch prints the error (one or more lines) and then "Command failed -:N". Pair each "Command
 * failed" with the message lines printed since the previous one.
 */
export function parseBatchErrors(stderr: string): Failure[] {
  const out: Failure[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split("\n")) {
    const l = raw.trim();
    if (!l) continue;
    const m = /^Command failed .*:(\d+)$/.exec(l);
    if (m) {
      out.push({ line: Number(m[1]), message: pending.join("; ") || "failed" });
      pending = [];
    } else pending.push(l);
  }
  if (pending.length && out.length === 0) out.push({ line: 0, message: pending.join("; ") });
  return out;
}

const MISSING = /Cannot find device|No such device|does not exist|Object "[^"]*" is unknown|No such file or directory/i;

function codeFor(message: string): ErrorCode {
  if (/File exists|already assigned|already exists/i.test(message)) return "ALREADY_EXISTS";
  if (MISSING.test(message)) return "NOT_FOUND";
  if (/not supported|Unknown device type|unknown/i.test(message)) return "UNAVAILABLE";
  if (/Operation not permitted|Permission denied/i.test(message)) return "PERMISSION_DENIED";
  if (/Invalid argument|Numerical result out of range|Address already in use/i.test(message)) return "INVALID_ARGUMENT";
  return "INTERNAL";
}

/** Run `ip -batch -` with these lines; throws a BerthError whose message is one line naming the failing command. */
export async function applyBatch(lines: readonly string[], opts: BatchOptions = {}): Promise<void> {
  if (lines.length === 0) return;
  for (const l of lines) if (l.includes("\n")) throw new BerthError("INVALID_ARGUMENT", `ip batch line contains a newline: ${JSON.stringify(l)}`);
  const ipArgs = [...(opts.tolerateMissing ? ["-force"] : []), "-batch", "-"];
  const [cmd, ...args] = opts.netnsPath ? nsenterArgs(opts.netnsPath, ["ip", ...ipArgs]) : ["ip", ...ipArgs];
  let r;
  try {
    r = await run(cmd!, args, { input: lines.join("\n") + "\n" });
  } catch (e) {
    throw unavailable(`cannot run ${cmd}: ${(e as Error).message}`, e);
  }
  if (r.code === 0) return;
  const where = opts.netnsPath ? ` in netns ${opts.netnsPath}` : "";
  // nsenter itself failed (e.g. the netns file is gone): no "Command failed" lines.
  if (opts.netnsPath && /^nsenter:/m.test(r.stderr)) {
    const msg = r.stderr.trim().split("\n")[0]!;
    if (opts.tolerateMissing && MISSING.test(msg)) return;
    throw new BatchError(MISSING.test(msg) ? "NOT_FOUND" : "INTERNAL", `ip -batch${where}: ${msg}`, 0, opts.netnsPath);
  }
  let failures = parseBatchErrors(r.stderr);
  if (opts.tolerateMissing) failures = failures.filter((f) => !MISSING.test(f.message));
  if (opts.tolerateMissing && failures.length === 0) return;
  const f = failures[0] ?? { line: 0, message: r.stderr.trim().split("\n")[0] || `exit status ${r.code}` };
  const cmdText = f.line > 0 && f.line <= lines.length ? `"ip ${lines[f.line - 1]}"` : `ip -batch (exit ${r.code})`;
  const more = failures.length > 1 ? ` (+${failures.length - 1} more failing line(s))` : "";
  throw new BatchError(codeFor(f.message), `${cmdText}${where} failed: ${f.message}${more}`, f.line, opts.netnsPath);
}

/** Apply a LinkPlan: host batch, then netns batch. At most two processes. */
export async function applyLinkPlan(plan: LinkPlan, opts: { tolerateMissing?: boolean } = {}): Promise<void> {
  await applyBatch(plan.host, { tolerateMissing: opts.tolerateMissing });
  if (plan.netns.length) {
    if (!plan.netnsPath) throw new BerthError("INVALID_ARGUMENT", "link plan has netns lines but no netnsPath");
    await applyBatch(plan.netns, { netnsPath: plan.netnsPath, tolerateMissing: opts.tolerateMissing });
  }
}

/**
 * Attach a container's interfaces (two processes at most). On failure, delete only the links this
 * attempt created (best effort) and rethrow the original one-line error.
 */
export async function attach(spec: AttachSpec): Promise<void> {
  const plan = planAttach(spec);
  let hostApplied = 0;
  try {
    await applyBatch(plan.host);
    hostApplied = plan.host.length;
    await applyBatch(plan.netns, { netnsPath: spec.netnsPath });
  } catch (e) {
    if (hostApplied === 0) hostApplied = e instanceof BatchError && e.line > 0 ? e.line - 1 : 0;
    await applyLinkPlan(planRollback(spec, hostApplied), { tolerateMissing: true }).catch(() => undefined);
    throw e;
  }
}

/** Detach (idempotent: what is already gone is fine). */
export async function detach(spec: AttachSpec): Promise<void> {
  await applyLinkPlan(planDetach(spec), { tolerateMissing: true });
}

/** Kind of an existing link in the host netns, or undefined when there is none by that name. */
export async function linkKind(name: string, netnsPath?: string): Promise<{ exists: boolean; kind?: string }> {
  const ipArgs = ["-j", "-d", "link", "show", "dev", name];
  const [cmd, ...args] = netnsPath ? nsenterArgs(netnsPath, ["ip", ...ipArgs]) : ["ip", ...ipArgs];
  const r = await run(cmd!, args);
  if (r.code !== 0) {
    if (MISSING.test(r.stderr)) return { exists: false };
    throw new BerthError("INTERNAL", `ip link show ${name}: ${r.stderr.trim().split("\n")[0]}`);
  }
  const j = JSON.parse(r.stdout) as { linkinfo?: { info_kind?: string } }[];
  return { exists: true, kind: j[0]?.linkinfo?.info_kind };
}

/** Probe, plan and apply a bridge (idempotent). Refuses a same-named link that is not a bridge. */
export async function ensureBridge(spec: BridgeSpec): Promise<void> {
  planBridge(spec, { exists: false }); // validate before asking the host anything
  const seen = await linkKind(spec.name);
  if (seen.exists && seen.kind !== "bridge") {
    throw new BerthError("CONFLICT", `interface ${spec.name} exists and is ${seen.kind ? `a ${seen.kind}` : "not a bridge"}`);
  }
  await applyBatch(planBridge(spec, { exists: seen.exists }));
}

export async function removeBridge(name: string): Promise<void> {
  await applyBatch(planBridgeRemoval(name), { tolerateMissing: true });
}

// ---- kernel feature probes ----------------------------------------------------------------------

export type ProbeKind = "veth" | "bridge" | "macvlan" | "ipvlan" | "vlan" | "dummy" | "vxlan" | "netem";

export type Support = { supported: true } | { supported: false; reason: string };

/** Each probe runs in a throwaway netns (`unshare --net`) that dies with the process: nothing to clean up. */
const PROBES: Record<ProbeKind, { cmd: string[]; input?: string; what: string }> = {
  veth: { cmd: ["ip", "-batch", "-"], input: "link add bp0 type veth peer name bp1\n", what: "veth driver" },
  bridge: { cmd: ["ip", "-batch", "-"], input: "link add bp0 type bridge\n", what: "bridge driver" },
  macvlan: { cmd: ["ip", "-batch", "-"], input: "link add bp0 type veth peer name bp1\nlink add link bp0 name bp2 type macvlan mode bridge\n", what: "macvlan driver" },
  ipvlan: { cmd: ["ip", "-batch", "-"], input: "link add bp0 type veth peer name bp1\nlink add link bp0 name bp2 type ipvlan mode l2\n", what: "ipvlan driver" },
  vlan: { cmd: ["ip", "-batch", "-"], input: "link add bp0 type veth peer name bp1\nlink add link bp0 name bp2 type vlan id 5\n", what: "802.1Q vlan driver (8021q)" },
  dummy: { cmd: ["ip", "-batch", "-"], input: "link add bp0 type dummy\n", what: "dummy driver" },
  vxlan: { cmd: ["ip", "-batch", "-"], input: "link add bp0 type vxlan id 42 dstport 4789\n", what: "vxlan driver" },
  netem: { cmd: ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"], what: "netem qdisc (sch_netem)" },
};

const probeCache = new Map<ProbeKind, Promise<Support>>();

/** Does this kernel support `kind`? Cached per process. A gap comes back as one line saying so. */
export function kernelSupports(kind: ProbeKind): Promise<Support> {
  let p = probeCache.get(kind);
  if (!p) {
    p = probe(kind);
    probeCache.set(kind, p);
  }
  return p;
}

async function probe(kind: ProbeKind): Promise<Support> {
  const pr = PROBES[kind];
  if (!pr) throw new BerthError("INVALID_ARGUMENT", `unknown probe kind "${kind}"`);
  const r = await run("unshare", ["--net", ...pr.cmd], pr.input === undefined ? {} : { input: pr.input });
  if (r.code === 0) return { supported: true };
  const detail = r.stderr.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("Command failed"))[0] ?? `exit status ${r.code}`;
  return { supported: false, reason: `this kernel has no ${pr.what}: ${detail}` };
}

/** Throws UNAVAILABLE with the probe's one-line reason when `kind` is missing. */
export async function requireKernel(kind: ProbeKind): Promise<void> {
  const s = await kernelSupports(kind);
  if (!s.supported) throw unavailable(s.reason);
}

// ---- sysctls ------------------------------------------------------------------------------------

/** A sysctl as its /proc/sys path relative part, e.g. "net/ipv4/conf/berth0/route_localnet". */
export interface SysctlSetting {
  key: string;
  value: string;
}

function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_./:-]+$/.test(key) || key.split("/").some((p) => p === ".." || p === "")) {
    throw new BerthError("INVALID_ARGUMENT", `invalid sysctl key "${key}"`);
  }
  return `/proc/sys/${key}`;
}

/** Write each setting; returns the previous values (in the same order) so restoreSysctls can undo them. */
export async function applySysctls(settings: readonly SysctlSetting[]): Promise<SysctlSetting[]> {
  const previous: SysctlSetting[] = [];
  try {
    for (const s of settings) {
      const p = sysctlPath(s.key);
      const old = (await readFile(p, "utf8")).trim();
      if (old !== s.value) {
        await writeFile(p, s.value + "\n");
        previous.push({ key: s.key, value: old });
      }
    }
  } catch (e) {
    await restoreSysctls(previous).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    throw new BerthError(err.code === "ENOENT" ? "NOT_FOUND" : "INTERNAL", `sysctl: ${err.message}`, { cause: e });
  }
  return previous;
}

/** Undo applySysctls; settings of interfaces that no longer exist are skipped (they went with the link). */
export async function restoreSysctls(previous: readonly SysctlSetting[]): Promise<void> {
  for (const s of [...previous].reverse()) {
    try {
      await writeFile(sysctlPath(s.key), s.value + "\n");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}
