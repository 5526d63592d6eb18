import { promises as fsp } from "node:fs";
import { join } from "node:path";

export interface CgroupStats {
  cpuNs: number;
  memUsage: number;
  /** Bytes; the host's memory when unlimited. */
  memLimit: number;
  pids: number;
}

interface Mounts {
  v1: Map<string, string>;
  v2?: string;
}

let mountsCache: Mounts | undefined;

async function cgroupMounts(): Promise<Mounts> {
  if (mountsCache) return mountsCache;
  const info = await fsp.readFile("/proc/self/mountinfo", "utf8");
  const m: Mounts = { v1: new Map() };
  for (const line of info.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mountPoint = pre.split(" ")[4]!;
    const [fstype, , superOpts] = post.split(" ");
    if (fstype === "cgroup2") m.v2 ??= mountPoint;
    else if (fstype === "cgroup") for (const o of (superOpts ?? "").split(",")) if (!["rw", "ro", "relatime"].includes(o)) m.v1.set(o, mountPoint);
  }
  return (mountsCache = m);
}

/** controller -> absolute cgroup dir of a process ("" key for the v2 unified dir). */
export async function cgroupDirs(pid: number): Promise<Map<string, string>> {
  const mounts = await cgroupMounts();
  const out = new Map<string, string>();
  const text = await fsp.readFile(`/proc/${pid}/cgroup`, "utf8");
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "0" && m[2] === "") {
      if (mounts.v2) out.set("", join(mounts.v2, m[3]!));
      continue;
    }
    for (const ctl of m[2]!.split(",")) {
      const mp = mounts.v1.get(ctl);
      if (mp) out.set(ctl, join(mp, m[3]!));
    }
  }
  return out;
}

async function num(path: string): Promise<number | undefined> {
  try {
    const t = (await fsp.readFile(path, "utf8")).trim();
    return t === "max" ? Infinity : Number(t);
  } catch {
    return undefined;
  }
}

async function kv(path: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    for (const l of (await fsp.readFile(path, "utf8")).split("\n")) {
      const [k, v] = l.split(" ");
      if (k && v) out[k] = Number(v);
    }
  } catch {
    /* absent controller */
  }
  return out;
}

/** CPU, memory and pids of the cgroup of a container's init process, v1 or v2. */
export async function readCgroupStats(pid: number, hostMem: number): Promise<CgroupStats> {
  const dirs = await cgroupDirs(pid);
  const memDir = dirs.get("memory");
  if (memDir) {
    // Docker subtracts the inactive page cache from usage; so do we.
    const st = await kv(join(memDir, "memory.stat"));
    const usage = ((await num(join(memDir, "memory.usage_in_bytes"))) ?? 0) - (st.total_inactive_file ?? 0);
    const limit = (await num(join(memDir, "memory.limit_in_bytes"))) ?? Infinity;
    return {
      cpuNs: (await num(join(dirs.get("cpuacct") ?? "", "cpuacct.usage"))) ?? 0,
      memUsage: Math.max(0, usage),
      memLimit: limit > hostMem ? hostMem : limit,
      pids: (await num(join(dirs.get("pids") ?? "", "pids.current"))) ?? 0,
    };
  }
  const dir = dirs.get("") ?? "";
  const st = await kv(join(dir, "memory.stat"));
  const limit = (await num(join(dir, "memory.max"))) ?? Infinity;
  return {
    cpuNs: ((await kv(join(dir, "cpu.stat"))).usage_usec ?? 0) * 1000,
    memUsage: Math.max(0, ((await num(join(dir, "memory.current"))) ?? 0) - (st.inactive_file ?? 0)),
    memLimit: limit > hostMem ? hostMem : limit,
    pids: (await num(join(dir, "pids.current"))) ?? 0,
  };
}

/** The freezer says whether a container is paused (runc's own state file is not an interface). */
export async function isFrozen(pid: number): Promise<boolean> {
  const dirs = await cgroupDirs(pid).catch(() => new Map<string, string>());
  const fz = dirs.get("freezer");
  if (fz) return ((await fsp.readFile(join(fz, "freezer.state"), "utf8").catch(() => "")).trim() === "FROZEN");
  const v2 = dirs.get("");
  if (v2) return ((await fsp.readFile(join(v2, "cgroup.freeze"), "utf8").catch(() => "0")).trim() === "1");
  return false;
}
