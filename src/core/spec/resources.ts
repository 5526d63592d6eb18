/**
 * Resource flags -> the spec's linux.resources, process.rlimits and linux.sysctl, with Docker's validation
 * rules and error texts that name the flag.
 */
import { invalid } from "../errors.js";
import type { ContainerOptions, HostFacts, SpecProcess, SpecResources, UlimitOption } from "./types.js";

/** Docker refuses memory limits below 6 MiB (the container could not even start). */
export const MIN_MEMORY = 6 * 1024 * 1024;
export const DEFAULT_CPU_PERIOD = 100_000;

const isInt = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n);

function checkInt(flag: string, v: number, lo: number, hi: number, why?: string): void {
  if (!isInt(v) || v < lo || v > hi) throw invalid(`invalid ${flag} ${String(v)}: ${why ?? `must be an integer between ${lo} and ${hi}`}`);
}

/** "0-2,4" style CPU/memory-node lists. */
export function validateCpuList(flag: string, s: string): string {
  const t = s.trim();
  const ok =
    /^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/.test(t) &&
    t.split(",").every((r) => {
      const [a, b] = r.split("-").map(Number);
      return b === undefined || a! <= b;
    });
  if (!ok) throw invalid(`invalid ${flag} "${s}": expected a list like "0-2,4"`);
  return t;
}

/** linux.resources without devices (the generator adds the device rules). */
export function buildResources(o: ContainerOptions, host: Pick<HostFacts, "cpuPeriod">): SpecResources {
  const r: SpecResources = {};

  // Memory. Docker: a swap limit needs a memory limit; unset swap means swap = memory (memory+swap = 2x).
  const mem: NonNullable<SpecResources["memory"]> = {};
  if (o.memory !== undefined && o.memory !== 0) {
    if (!isInt(o.memory) || o.memory < 0) throw invalid(`invalid --memory ${String(o.memory)}: must be a positive number of bytes`);
    if (o.memory < MIN_MEMORY) throw invalid(`invalid --memory ${o.memory}: the minimum memory limit is 6MB`);
    mem.limit = o.memory;
  }
  if (o.memorySwap !== undefined && o.memorySwap !== 0) {
    if (!isInt(o.memorySwap) || o.memorySwap < -1) throw invalid(`invalid --memory-swap ${String(o.memorySwap)}: must be bytes or -1 (unlimited)`);
    if (mem.limit === undefined) throw invalid(`invalid --memory-swap ${o.memorySwap}: --memory-swap needs --memory`);
    if (o.memorySwap !== -1 && o.memorySwap < mem.limit)
      throw invalid(`invalid --memory-swap ${o.memorySwap}: must be at least --memory (${mem.limit}); it counts memory plus swap`);
    mem.swap = o.memorySwap;
  } else if (mem.limit !== undefined) {
    mem.swap = mem.limit * 2;
  }
  if (o.memoryReservation !== undefined && o.memoryReservation !== 0) {
    const v = o.memoryReservation;
    if (!isInt(v) || v < 0) throw invalid(`invalid --memory-reservation ${String(v)}: must be a positive number of bytes`);
    if (v < MIN_MEMORY) throw invalid(`invalid --memory-reservation ${v}: the minimum memory reservation is 6MB`);
    if (mem.limit !== undefined && v > mem.limit) throw invalid(`invalid --memory-reservation ${v}: must not exceed --memory (${mem.limit})`);
    mem.reservation = v;
  }
  if (o.oomKillDisable) mem.disableOOMKiller = true;
  if (Object.keys(mem).length) r.memory = mem;

  // CPU.
  const cpu: NonNullable<SpecResources["cpu"]> = {};
  if (o.cpuShares !== undefined && o.cpuShares !== 0) {
    checkInt("--cpu-shares", o.cpuShares, 2, 262144);
    cpu.shares = o.cpuShares;
  }
  if (o.cpus !== undefined) {
    if (typeof o.cpus !== "number" || !Number.isFinite(o.cpus) || o.cpus <= 0)
      throw invalid(`invalid --cpus ${String(o.cpus)}: must be a positive number`);
    const period = host.cpuPeriod ?? DEFAULT_CPU_PERIOD;
    const quota = Math.round(o.cpus * period);
    // The kernel's minimum CFS quota is 1ms.
    if (quota < 1000) throw invalid(`invalid --cpus ${o.cpus}: too small (the minimum is ${(1000 / period).toFixed(2)})`);
    cpu.period = period;
    cpu.quota = quota;
  }
  if (o.cpusetCpus !== undefined && o.cpusetCpus !== "") cpu.cpus = validateCpuList("--cpuset-cpus", o.cpusetCpus);
  if (o.cpusetMems !== undefined && o.cpusetMems !== "") cpu.mems = validateCpuList("--cpuset-mems", o.cpusetMems);
  if (Object.keys(cpu).length) r.cpu = cpu;

  // Pids: 0 and -1 mean unlimited (no limit written).
  if (o.pidsLimit !== undefined && o.pidsLimit !== 0 && o.pidsLimit !== -1) {
    if (!isInt(o.pidsLimit) || o.pidsLimit < 1) throw invalid(`invalid --pids-limit ${String(o.pidsLimit)}: must be positive, or 0/-1 for unlimited`);
    r.pids = { limit: o.pidsLimit };
  }

  if (o.blkioWeight !== undefined && o.blkioWeight !== 0) {
    checkInt("--blkio-weight", o.blkioWeight, 10, 1000);
    r.blockIO = { weight: o.blkioWeight };
  }
  return r;
}

export function validateOomScoreAdj(v: number): number {
  checkInt("--oom-score-adj", v, -1000, 1000);
  return v;
}

/** Docker's --ulimit names. */
export const ULIMIT_NAMES: readonly string[] = Object.freeze([
  "as",
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
]);

/**
 * --ulimit -> process.rlimits (RLIMIT_<NAME>). A later --ulimit for the same name replaces an earlier one.
 * berth lacks CAP_SYS_RESOURCE, so a hard limit above berth's own fails at start: refuse it here instead.
 */
export function buildRlimits(ulimits: UlimitOption[] | undefined, hardLimits: Record<string, number>): NonNullable<SpecProcess["rlimits"]> {
  const byName = new Map<string, { type: string; hard: number; soft: number }>();
  for (const u of ulimits ?? []) {
    const name = String(u.name).toLowerCase();
    const shown = `--ulimit ${u.name}=${u.soft}:${u.hard}`;
    if (!ULIMIT_NAMES.includes(name)) throw invalid(`invalid ${shown}: unknown limit "${u.name}" (one of ${ULIMIT_NAMES.join(", ")})`);
    if (!isInt(u.soft) || !isInt(u.hard) || u.soft < 0 || u.hard < 0)
      throw invalid(`invalid ${shown}: limits must be non-negative integers`);
    if (u.soft > u.hard) throw invalid(`invalid ${shown}: soft limit ${u.soft} is above hard limit ${u.hard}`);
    const hostHard = hardLimits[name];
    if (hostHard !== undefined && u.hard > hostHard)
      throw invalid(`${shown}: hard limit ${u.hard} is above the host's hard limit ${hostHard} (berth lacks CAP_SYS_RESOURCE)`);
    byName.delete(name);
    byName.set(name, { type: `RLIMIT_${name.toUpperCase()}`, hard: u.hard, soft: u.soft });
  }
  return [...byName.values()];
}

const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

export interface SysctlContext {
  /** The container has its own network namespace. */
  privateNet: boolean;
  /** The container has its own IPC namespace. */
  privateIpc: boolean;
  /** The container has its own UTS namespace. */
  privateUts: boolean;
}

/**
 * Only namespaced sysctls, and only when the container owns that namespace (Docker's and runc's rule):
 * IPC ones (kernel.msg*, sem, shm*, fs.mqueue.*) need a private IPC namespace, net.* a private network
 * namespace, kernel.domainname a private UTS namespace.
 */
export function validateSysctls(sysctls: Record<string, string> | undefined, ctx: SysctlContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawKey, value] of Object.entries(sysctls ?? {})) {
    const key = rawKey.trim().replace(/\//g, ".");
    const bad = (why: string) => invalid(`invalid --sysctl "${rawKey}": ${why}`);
    if (typeof value !== "string" || /[\n\0]/.test(value)) throw bad("the value must be a single line");
    if (IPC_SYSCTLS.has(key) || key.startsWith("fs.mqueue.")) {
      if (!ctx.privateIpc) throw bad("not allowed with --ipc host (it would change the host's IPC namespace)");
    } else if (key.startsWith("net.")) {
      if (!ctx.privateNet) throw bad("not allowed with --network host (it would change the host's network namespace)");
    } else if (key === "kernel.domainname") {
      if (!ctx.privateUts) throw bad("not allowed with --uts host (it would change the host's domain name)");
    } else if (key === "kernel.hostname") {
      throw bad("use --hostname instead");
    } else {
      throw bad("not a namespaced sysctl (only kernel.msg*/sem/shm*, fs.mqueue.*, net.* and kernel.domainname are)");
    }
    out[key] = value;
  }
  return out;
}
