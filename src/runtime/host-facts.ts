import { existsSync, lstatSync, readFileSync, readdirSync } from "node:fs";
import { hostname, release, userInfo } from "node:os";
import { ALL_CAPABILITIES } from "../core/spec/capabilities.js";
import type { HostDevice, HostFacts } from "../core/spec/types.js";

const LIMIT_NAMES: Record<string, string> = {
  "Max cpu time": "cpu",
  "Max file size": "fsize",
  "Max data size": "data",
  "Max stack size": "stack",
  "Max core file size": "core",
  "Max resident set": "rss",
  "Max processes": "nproc",
  "Max open files": "nofile",
  "Max locked memory": "memlock",
  "Max address space": "as",
  "Max file locks": "locks",
  "Max pending signals": "sigpending",
  "Max msgqueue size": "msgqueue",
  "Max nice priority": "nice",
  "Max realtime priority": "rtprio",
  "Max realtime timeout": "rttime",
};

/** The hard limits of this process, by Docker's ulimit names; unlimited ones are left out. */
export function parseLimits(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n").slice(1)) {
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = LIMIT_NAMES[m[1]!.trim()];
    if (name && m[3] !== "unlimited") out[name] = Number(m[3]);
  }
  return out;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export function goArch(nodeArch: string = process.arch): string {
  return ({ x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" } as Record<string, string>)[nodeArch] ?? nodeArch;
}

export function cgroupVersion(): 1 | 2 {
  // A pure v2 host mounts cgroup2 at /sys/fs/cgroup itself; hybrid hosts (like this one) mount v1 there.
  return existsSync("/sys/fs/cgroup/cgroup.controllers") ? 2 : 1;
}

function subIds(): Pick<HostFacts, "subUids" | "subGids"> {
  const uid = process.getuid?.() ?? 0;
  let name = "root";
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const names = uid === 0 ? ["containers", name, String(uid)] : [name, String(uid)];
  const u = subIdRange(read("/etc/subuid"), names);
  const g = subIdRange(read("/etc/subgid"), names);
  return { ...(u ? { subUids: u } : {}), ...(g ? { subGids: g } : {}) };
}

const INIT_PATHS = ["/usr/bin/catatonit", "/usr/libexec/podman/catatonit"];

/** Capability names in a /proc status mask (CapBnd: berth cannot grant what it does not hold). */
export function capsOfMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** The subordinate id range of a user in /etc/subuid or /etc/subgid ("containers" for root, as Podman). */
export function subIdRange(text: string | undefined, names: string[]): { start: number; size: number } | undefined {
  for (const line of (text ?? "").split("\n")) {
    const [n, start, size] = line.trim().split(":");
    if (n && names.includes(n) && start && size) return { start: Number(start), size: Number(size) };
  }
  return undefined;
}

/** Probe the facts spec generation depends on: a few small /proc and /sys reads. */
export function probeHostFacts(): HostFacts {
  const status = read("/proc/self/status") ?? "";
  const apparmorOn = (read("/sys/module/apparmor/parameters/enabled") ?? "").trim() === "Y";
  const profiles = apparmorOn ? (read("/sys/kernel/security/apparmor/profiles") ?? "") : "";
  return {
    arch: goArch(),
    cgroupVersion: cgroupVersion(),
    capLastCap: Number((read("/proc/sys/kernel/cap_last_cap") ?? "40").trim()),
    seccomp: /^Seccomp:/m.test(status),
    apparmor: { enabled: apparmorOn, ...(/^berth-default /m.test(profiles) ? { defaultProfile: "berth-default" } : /^docker-default /m.test(profiles) ? { defaultProfile: "docker-default" } : {}) },
    selinux: existsSync("/sys/fs/selinux/enforce"),
    hardLimits: parseLimits(read("/proc/self/limits") ?? ""),
    devices: [],
    procKcore: existsSync("/proc/kcore"),
    ...(INIT_PATHS.find((p) => existsSync(p)) ? { initPath: INIT_PATHS.find((p) => existsSync(p))! } : {}),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    ...(/^CapBnd:\s*([0-9a-f]+)/m.exec(status) ? { capBounding: capsOfMask(/^CapBnd:\s*([0-9a-f]+)/m.exec(status)![1]!) } : {}),
    ...subIds(),
    kernelVersion: release(),
    hostname: hostname(),
  };
}

/** Every char and block device under /dev, for --privileged (only then: it walks /dev). */
export function hostDevices(dir = "/dev"): HostDevice[] {
  const out: HostDevice[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = `${d}/${n}`;
      if (p === "/dev/pts" || p === "/dev/shm" || p === "/dev/mqueue" || p === "/dev/console") continue;
      let st;
      try {
        st = lstatSync(p, { throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        out.push({
          path: p,
          type: st.isCharacterDevice() ? "c" : "b",
          major: Math.floor(st.rdev / 256) & 0xfff,
          minor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
          fileMode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
        });
      }
    }
  };
  walk(dir);
  return out;
}
