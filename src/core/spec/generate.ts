/**
 * The OCI runtime spec of a container: a pure function of the image config, the user's options and facts
 * probed once about the host (DESIGN.md section 2, rule 3). No I/O; same input, same output.
 *
 * Where Docker and Podman differ berth follows Docker, except where noted:
 * - env order: PATH, HOSTNAME, TERM first (Docker's daemon defaults), then image and user variables in
 *   first-occurrence order, then HOME when unset (runc would add it at exec time; berth writes it down);
 * - `-e KEY` with KEY unset in berth's environment removes KEY (also from the image's env), as Docker does;
 * - capabilities: bounding = effective = permitted = the set for every user; the kernel drops effective and
 *   permitted at exec for a non-root uid (Podman instead writes only --cap-add'ed ones for non-root users);
 * - the device cgroup allow-list is written out in the spec (Docker leaves it to runc), so crun and runc agree;
 * - --read-only: the root is read-only, /dev and its children stay writable, no extra tmpfs (Podman would add
 *   /run, /tmp and /var/tmp);
 * - --privileged with --read-only keeps /sys and /sys/fs/cgroup read-only.
 */
import { posix } from "node:path";
import { invalid, precondition } from "../errors.js";
import { capabilitySet, normalizeCapability } from "./capabilities.js";
import {
  DEFAULT_INIT_MOUNT_PATH,
  DEFAULT_PATH_ENV,
  DEFAULT_READONLY_PATHS,
  defaultDeviceRules,
  defaultMaskedPaths,
  defaultMounts,
  privilegedDeviceRules,
} from "./defaults.js";
import { buildResources, buildRlimits, validateOomScoreAdj, validateSysctls } from "./resources.js";
import { defaultSeccomp } from "./seccomp.js";
import { parseSignal } from "./signals.js";
import type {
  ContainerOptions,
  HostFacts,
  IdMap,
  ImageRuntimeConfig,
  LinuxSeccomp,
  RuntimeSpec,
  SpecInput,
  SpecLinux,
  SpecMount,
  SpecProcess,
} from "./types.js";

export const OCI_VERSION = "1.0.2";

// ---------------------------------------------------------------------------------------------------------
// Command line

const cleared = (e: readonly string[] | null | undefined): boolean => !e || e.length === 0 || (e.length === 1 && e[0] === "");

/**
 * Docker's merge of ENTRYPOINT/CMD with --entrypoint and the arguments after the image:
 * entrypoint = --entrypoint ?? image Entrypoint ([""] clears it); setting --entrypoint (even to "") drops the
 * image's Cmd; non-empty arguments replace Cmd. Returns inspect's Path and Args.
 */
export function mergeProcessArgs(image: ImageRuntimeConfig, options: ContainerOptions): { path: string; args: string[] } {
  const overridden = options.entrypoint !== undefined;
  const entrypoint = overridden ? (cleared(options.entrypoint) ? [] : [...options.entrypoint!]) : cleared(image.Entrypoint) ? [] : [...image.Entrypoint!];
  const cmd = options.cmd && options.cmd.length > 0 ? [...options.cmd] : overridden ? [] : [...(image.Cmd ?? [])];
  const all = [...entrypoint, ...cmd];
  if (all.length === 0 || all[0] === "") throw invalid("no command specified");
  return { path: all[0]!, args: all.slice(1) };
}

// ---------------------------------------------------------------------------------------------------------
// Environment

function envKey(entry: string): string {
  const i = entry.indexOf("=");
  return i < 0 ? entry : entry.slice(0, i);
}

function buildEnv(input: SpecInput, hostname: string | undefined): string[] {
  const merged = new Map<string, string>();
  for (const e of input.image.Env ?? []) {
    // Image entries without "=" carry no value; Docker ignores them too.
    if (e.includes("=") && envKey(e) !== "") merged.set(envKey(e), e);
  }
  for (const e of input.options.env ?? []) {
    const key = envKey(e);
    if (key === "" || key.includes("\0")) throw invalid(`invalid --env "${e}": empty or invalid variable name`);
    if (e.includes("=")) merged.set(key, e);
    else {
      const v = input.hostEnv?.[key];
      if (v === undefined) merged.delete(key);
      else merged.set(key, `${key}=${v}`);
    }
  }
  const out: string[] = [];
  const take = (key: string, fallback: string | undefined) => {
    const v = merged.get(key);
    if (v !== undefined) {
      out.push(v);
      merged.delete(key);
    } else if (fallback !== undefined) out.push(`${key}=${fallback}`);
  };
  take("PATH", DEFAULT_PATH_ENV);
  take("HOSTNAME", hostname);
  if (input.options.tty) take("TERM", "xterm");
  out.push(...merged.values());
  if (!out.some((e) => envKey(e) === "HOME")) out.push(`HOME=${input.user.home || "/"}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Paths and mounts

/** Absolute, normalised, no trailing slash; `what` names the flag in errors. */
function absPath(what: string, p: string): string {
  if (typeof p !== "string" || !p.startsWith("/")) throw invalid(`invalid ${what} "${String(p)}": must be an absolute path`);
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

const depth = (p: string) => p.split("/").filter(Boolean).length;

/** Flags whose opposite a user option cancels. */
const OPPOSITES: Record<string, string> = {
  exec: "noexec",
  noexec: "exec",
  suid: "nosuid",
  nosuid: "suid",
  dev: "nodev",
  nodev: "dev",
  ro: "rw",
  rw: "ro",
  atime: "noatime",
  noatime: "atime",
};

/** Docker's --tmpfs defaults (rw,nosuid,nodev,noexec) merged with the user's options; the user's win. */
export function mergeTmpfsOptions(what: string, user: string[]): string[] {
  const out = ["rw", "nosuid", "nodev", "noexec"];
  for (const raw of user) {
    const o = raw.trim();
    if (o === "") continue;
    const eq = o.indexOf("=");
    if (eq >= 0) {
      const key = o.slice(0, eq);
      const val = o.slice(eq + 1);
      if (key === "size" && !/^[0-9]+[kKmMgG%]?$/.test(val)) throw invalid(`invalid ${what} option "${o}": bad size`);
      if (key === "mode" && !/^[0-7]{3,4}$/.test(val)) throw invalid(`invalid ${what} option "${o}": mode must be octal`);
      const i = out.findIndex((x) => x.startsWith(`${key}=`));
      if (i >= 0) out.splice(i, 1);
      out.push(o);
    } else {
      const opp = OPPOSITES[o];
      const i = opp ? out.indexOf(opp) : -1;
      if (i >= 0) out.splice(i, 1);
      if (!out.includes(o)) out.push(o);
    }
  }
  return out;
}

function userMounts(input: SpecInput): SpecMount[] {
  const o = input.options;
  const out: SpecMount[] = [];
  for (const [dest, opts] of Object.entries(o.tmpfs ?? {})) {
    out.push({ destination: absPath("--tmpfs", dest), type: "tmpfs", source: "tmpfs", options: mergeTmpfsOptions("--tmpfs", opts.split(",")) });
  }
  for (const m of o.mounts ?? []) {
    const destination = absPath("--mount destination", m.destination);
    if (m.type === "bind") {
      if (!m.source) throw invalid(`invalid --mount for "${destination}": a bind mount needs a source`);
      const source = absPath("--mount source", m.source);
      const extra = (m.options ?? []).filter((x) => x !== "ro" && x !== "rw" && x !== "bind" && x !== "rbind");
      out.push({ destination, type: "bind", source, options: ["rbind", m.readOnly || m.options?.includes("ro") ? "ro" : "rw", ...extra] });
    } else if (m.type === "tmpfs") {
      const opts = [...(m.options ?? []), ...(m.readOnly ? ["ro"] : [])];
      out.push({ destination, type: "tmpfs", source: "tmpfs", options: mergeTmpfsOptions("--mount type=tmpfs", opts) });
    } else {
      throw invalid(`invalid --mount type "${String((m as { type: unknown }).type)}" for "${destination}"`);
    }
  }
  const seen = new Set<string>();
  for (const m of out) {
    if (m.destination === "/") throw invalid(`invalid mount destination "/": cannot mount over the root`);
    if (seen.has(m.destination)) throw invalid(`duplicate mount point "${m.destination}"`);
    seen.add(m.destination);
  }
  return out;
}

/**
 * Defaults, then the engine's extra mounts, then the user's: a later one replaces an earlier one at the same
 * destination, and one that replaces a default kernel filesystem (say a bind on /dev) also removes the
 * defaults beneath it. The result is stably sorted by path depth so parents are mounted before children.
 */
function buildMounts(input: SpecInput, privateNet: boolean, userns: boolean): SpecMount[] {
  const o = input.options;
  if (o.shmSize !== undefined && (!Number.isSafeInteger(o.shmSize) || o.shmSize <= 0))
    throw invalid(`invalid --shm-size ${String(o.shmSize)}: must be a positive number of bytes`);
  let defaults = defaultMounts({ shmSize: o.shmSize, ipcHost: o.ipc === "host", writableSys: !!o.privileged && !o.readOnly });
  if (userns && !privateNet) {
    // sysfs can only be mounted by a user namespace that owns the network namespace: bind the host's.
    defaults = defaults.map((m) =>
      m.destination === "/sys" ? { destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"] } : m,
    );
  }
  const extra = (input.extraMounts ?? []).map((m) => ({ ...m, destination: absPath("mount destination", m.destination) }));
  const mine = userMounts(input);
  if (o.init) {
    if (!input.host.initPath) throw precondition("--init: catatonit is not installed");
    const dest = absPath("init mount path", input.initMountPath ?? DEFAULT_INIT_MOUNT_PATH);
    mine.push({ destination: dest, type: "bind", source: input.host.initPath, options: ["bind", "ro"] });
  }
  const overrides = [...extra, ...mine];
  const replaced = new Set(overrides.map((m) => m.destination));
  const defaultDests = new Set(defaults.map((m) => m.destination));
  const shadowRoots = [...replaced].filter((d) => defaultDests.has(d));
  const keptDefaults = defaults.filter(
    (m) => !replaced.has(m.destination) && !shadowRoots.some((r) => m.destination.startsWith(`${r}/`)),
  );
  const byDest = new Map<string, SpecMount>();
  for (const m of overrides) {
    byDest.delete(m.destination);
    byDest.set(m.destination, m);
  }
  const all = [...keptDefaults, ...byDest.values()];
  return all
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map((x) => x.m);
}

// ---------------------------------------------------------------------------------------------------------
// Security options

interface Security {
  noNewPrivileges: boolean;
  seccomp: "default" | "unconfined" | { file: string };
  apparmor?: string | "unconfined";
  label: { disable: boolean; parts: Record<string, string> };
  systemPathsUnconfined: boolean;
  mask: string[];
  unmask: string[];
}

function parseSecurityOpts(opts: string[] | undefined): Security {
  const s: Security = { noNewPrivileges: false, seccomp: "default", label: { disable: false, parts: {} }, systemPathsUnconfined: false, mask: [], unmask: [] };
  for (const raw of opts ?? []) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(raw.trim());
    const bad = (why: string) => invalid(`invalid --security-opt "${raw}": ${why}`);
    if (!m) throw bad("expected KEY=VALUE");
    const key = m[1]!;
    const val = m[2];
    const need = () => {
      if (val === undefined || val === "") throw bad("missing value");
      return val;
    };
    switch (key) {
      case "no-new-privileges":
        if (val === undefined || val === "true") s.noNewPrivileges = true;
        else if (val === "false") s.noNewPrivileges = false;
        else throw bad("expected true or false");
        break;
      case "seccomp": {
        const v = need();
        s.seccomp = v === "unconfined" ? "unconfined" : { file: v };
        break;
      }
      case "apparmor":
        s.apparmor = need();
        break;
      case "label": {
        const v = need();
        if (v === "disable") s.label.disable = true;
        else if (v === "nested") s.label.parts.nested = "true";
        else {
          const lm = /^(user|role|type|level|filetype):(.+)$/s.exec(v);
          if (!lm) throw bad("expected user:, role:, type:, level:, filetype:, disable or nested");
          s.label.parts[lm[1]!] = lm[2]!;
        }
        break;
      }
      case "systempaths":
        if (need() !== "unconfined") throw bad('only "systempaths=unconfined" is supported');
        s.systemPathsUnconfined = true;
        break;
      case "mask":
        s.mask.push(...need().split(":").filter(Boolean).map((p) => absPath("--security-opt mask path", p)));
        break;
      case "unmask":
        s.unmask.push(...need().split(":").filter(Boolean).map((p) => (p === "ALL" ? p : absPath("--security-opt unmask path", p))));
        break;
      default:
        throw bad("unknown option");
    }
  }
  return s;
}

/** Go architecture name -> libseccomp's name of its native ABI. */
const SCMP_NATIVE: Record<string, string> = {
  amd64: "SCMP_ARCH_X86_64",
  "386": "SCMP_ARCH_X86",
  arm64: "SCMP_ARCH_AARCH64",
  arm: "SCMP_ARCH_ARM",
  ppc64le: "SCMP_ARCH_PPC64LE",
  ppc64: "SCMP_ARCH_PPC64",
  s390x: "SCMP_ARCH_S390X",
  s390: "SCMP_ARCH_S390",
  mips64le: "SCMP_ARCH_MIPSEL64",
  mips64: "SCMP_ARCH_MIPS64",
  mipsle: "SCMP_ARCH_MIPSEL",
  mips: "SCMP_ARCH_MIPS",
  riscv64: "SCMP_ARCH_RISCV64",
};
const SCMP_ARCHES = new Set([
  ...Object.values(SCMP_NATIVE),
  "SCMP_ARCH_X32",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
]);
const SCMP_ACTIONS = new Set([
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
]);
const SCMP_OPS = new Set(["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"]);
const SCMP_FLAGS = new Set(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;

function kernelAtLeast(have: string | undefined, want: string): boolean {
  const parse = (s: string) => (/^(\d+)\.(\d+)/.exec(s) ?? []).slice(1).map(Number);
  const [hM, hm] = parse(have ?? "");
  const [wM, wm] = parse(want);
  if (hM === undefined || wM === undefined) return true; // unknown: keep the rule
  return hM > wM || (hM === wM && hm! >= wm!);
}

/**
 * A seccomp profile in Docker's format (defaultAction, architectures or archMap, syscalls with name or names,
 * includes/excludes by caps, arches and minKernel) -> the OCI `linux.seccomp` object for this container.
 */
export function convertSeccompProfile(profile: unknown, ctx: { capabilities: string[]; arch: string; kernelVersion?: string; file?: string }): LinuxSeccomp {
  const where = `--security-opt seccomp=${ctx.file ?? "FILE"}`;
  const bad = (why: string) => invalid(`invalid ${where}: ${why}`);
  if (!isObj(profile)) throw bad("the profile must be a JSON object");
  const action = (v: unknown, at: string): string => {
    if (typeof v !== "string" || !SCMP_ACTIONS.has(v)) throw bad(`${at}: unknown action ${JSON.stringify(v)}`);
    return v;
  };
  const out: LinuxSeccomp = { defaultAction: action(profile.defaultAction, "defaultAction") };
  if (profile.defaultErrnoRet !== undefined) {
    if (!isUint(profile.defaultErrnoRet, 0xffffffff)) throw bad("defaultErrnoRet must be a non-negative integer");
    out.defaultErrnoRet = profile.defaultErrnoRet;
  }
  if (profile.architectures !== undefined && profile.archMap !== undefined) throw bad('use either "architectures" or "archMap", not both');
  const native = SCMP_NATIVE[ctx.arch];
  const checkArch = (a: unknown): string => {
    if (typeof a !== "string" || !SCMP_ARCHES.has(a)) throw bad(`unknown architecture ${JSON.stringify(a)}`);
    return a;
  };
  if (Array.isArray(profile.architectures)) out.architectures = profile.architectures.map(checkArch);
  else if (profile.architectures !== undefined && profile.architectures !== null) throw bad('"architectures" must be an array');
  if (profile.archMap !== undefined && profile.archMap !== null) {
    if (!Array.isArray(profile.archMap)) throw bad('"archMap" must be an array');
    const arches: string[] = [];
    for (const e of profile.archMap) {
      if (!isObj(e)) throw bad("archMap entries must be objects");
      const a = checkArch(e.architecture);
      const subs = Array.isArray(e.subArchitectures) ? e.subArchitectures.map(checkArch) : [];
      if (a === native) arches.push(a, ...subs);
    }
    out.architectures = arches;
  }
  if (profile.flags !== undefined && profile.flags !== null) {
    if (!Array.isArray(profile.flags) || profile.flags.some((f) => typeof f !== "string" || !SCMP_FLAGS.has(f))) throw bad("unknown seccomp flag");
    out.flags = profile.flags as string[];
  }
  const caps = new Set(ctx.capabilities);
  const syscalls: NonNullable<LinuxSeccomp["syscalls"]> = [];
  if (profile.syscalls !== undefined && profile.syscalls !== null && !Array.isArray(profile.syscalls)) throw bad('"syscalls" must be an array');
  for (const [i, sc] of ((profile.syscalls as unknown[] | undefined) ?? []).entries()) {
    const at = `syscalls[${i}]`;
    if (!isObj(sc)) throw bad(`${at} must be an object`);
    if (sc.name !== undefined && sc.names !== undefined) throw bad(`${at}: use either "name" or "names", not both`);
    const names = sc.names !== undefined ? sc.names : sc.name !== undefined ? [sc.name] : [];
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== "string" || n === "")) throw bad(`${at}: needs "name" or a non-empty "names" list`);
    const act = action(sc.action, at);
    const capList = (v: unknown, what: string): string[] => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) throw bad(`${at}.${what} must be an array`);
      return v.map((c) => {
        try {
          return normalizeCapability(String(c));
        } catch {
          throw bad(`${at}.${what}: unknown capability ${JSON.stringify(c)}`);
        }
      });
    };
    const strList = (v: unknown, what: string): string[] => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw bad(`${at}.${what} must be a list of strings`);
      return v as string[];
    };
    const inc = isObj(sc.includes) ? sc.includes : {};
    const exc = isObj(sc.excludes) ? sc.excludes : {};
    const incArches = strList(inc.arches, "includes.arches");
    const excArches = strList(exc.arches, "excludes.arches");
    if (incArches.length && !incArches.includes(ctx.arch)) continue;
    if (excArches.includes(ctx.arch)) continue;
    if (!capList(inc.caps, "includes.caps").every((c) => caps.has(c))) continue;
    if (capList(exc.caps, "excludes.caps").some((c) => caps.has(c))) continue;
    if (typeof inc.minKernel === "string" && !kernelAtLeast(ctx.kernelVersion, inc.minKernel)) continue;
    const rule: NonNullable<LinuxSeccomp["syscalls"]>[number] = { names: [...(names as string[])], action: act };
    if (sc.errnoRet !== undefined && sc.errnoRet !== null) {
      if (!isUint(sc.errnoRet, 0xffffffff)) throw bad(`${at}.errnoRet must be a non-negative integer`);
      rule.errnoRet = sc.errnoRet;
    }
    if (sc.args !== undefined && sc.args !== null) {
      if (!Array.isArray(sc.args)) throw bad(`${at}.args must be an array`);
      const args = sc.args.map((a, j) => {
        if (!isObj(a)) throw bad(`${at}.args[${j}] must be an object`);
        if (!isUint(a.index, 5)) throw bad(`${at}.args[${j}].index must be 0..5`);
        if (!isUint(a.value, Number.MAX_VALUE)) throw bad(`${at}.args[${j}].value must be a non-negative integer`);
        if (typeof a.op !== "string" || !SCMP_OPS.has(a.op)) throw bad(`${at}.args[${j}]: unknown op ${JSON.stringify(a.op)}`);
        const arg: { index: number; value: number; valueTwo?: number; op: string } = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo !== undefined && a.valueTwo !== null) {
          if (!isUint(a.valueTwo, Number.MAX_VALUE)) throw bad(`${at}.args[${j}].valueTwo must be a non-negative integer`);
          arg.valueTwo = a.valueTwo;
        }
        return arg;
      });
      if (args.length) rule.args = args;
    }
    syscalls.push(rule);
  }
  if (syscalls.length) out.syscalls = syscalls;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// User namespace

function checkMaps(flag: string, maps: IdMap[]): IdMap[] {
  const out = maps.map((m) => {
    const ok = [m.containerID, m.hostID].every((v) => isUint(v, 0xffffffff)) && isUint(m.size, 0xffffffff) && m.size >= 1;
    if (!ok) throw invalid(`invalid ${flag} ${m.containerID}:${m.hostID}:${m.size}: ids must be non-negative and size at least 1`);
    return { containerID: m.containerID, hostID: m.hostID, size: m.size };
  });
  for (const key of ["containerID", "hostID"] as const) {
    const s = [...out].sort((a, b) => a[key] - b[key]);
    for (let i = 1; i < s.length; i++) {
      if (s[i]![key] < s[i - 1]![key] + s[i - 1]!.size) throw invalid(`invalid ${flag}: overlapping ${key === "containerID" ? "container" : "host"} ranges`);
    }
  }
  return out;
}

/**
 * --userns keep-id: the caller's id is the same inside and out; every other container id up to the size of
 * the subordinate range maps into that range (0..id-1 first, then id+1...), as Podman lays it out.
 */
export function keepIdMaps(id: number, sub: { start: number; size: number } | undefined): IdMap[] {
  const maps: IdMap[] = [];
  if (sub && sub.size > 0) {
    const below = Math.min(id, sub.size);
    if (below > 0) maps.push({ containerID: 0, hostID: sub.start, size: below });
    maps.push({ containerID: id, hostID: id, size: 1 });
    if (sub.size > below) maps.push({ containerID: id + 1, hostID: sub.start + below, size: sub.size - below });
  } else {
    maps.push({ containerID: id, hostID: id, size: 1 });
  }
  return maps;
}

/** devpts's gid=5 (tty) must exist in the container's user namespace, or the kernel refuses the mount. */
function withDevptsGroup(mounts: SpecMount[], gidMaps: IdMap[] | undefined): SpecMount[] {
  if (!gidMaps || gidMaps.some((m) => m.containerID <= 5 && 5 < m.containerID + m.size)) return mounts;
  return mounts.map((m) => (m.type === "devpts" ? { ...m, options: (m.options ?? []).filter((x) => x !== "gid=5") } : m));
}

function userNamespace(o: ContainerOptions, host: HostFacts): { uidMappings: IdMap[]; gidMappings: IdMap[] } | undefined {
  const explicit = (o.uidMaps?.length ?? 0) > 0 || (o.gidMaps?.length ?? 0) > 0;
  if (o.userns === "keep-id") {
    if (explicit) throw invalid("--userns keep-id cannot be combined with --uidmap/--gidmap");
    // Podman refuses it rootful too: it maps the caller's own id, and for root that is root itself.
    if (host.uid === 0) throw invalid("--userns keep-id maps the calling user's own id into the container and berth runs as root: use --uidmap/--gidmap");
    return { uidMappings: keepIdMaps(host.uid, host.subUids), gidMappings: keepIdMaps(host.gid, host.subGids) };
  }
  if (!explicit) return undefined;
  if (o.userns === "host") throw invalid("--userns host cannot be combined with --uidmap/--gidmap");
  // One of the two alone is used for both, as Podman does.
  const uid = checkMaps("--uidmap", o.uidMaps?.length ? o.uidMaps : o.gidMaps!);
  const gid = checkMaps("--gidmap", o.gidMaps?.length ? o.gidMaps : o.uidMaps!);
  return { uidMappings: uid, gidMappings: gid };
}

// ---------------------------------------------------------------------------------------------------------

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

function hostDevices(host: HostFacts): NonNullable<SpecLinux["devices"]> {
  // The runtime creates these itself (ptys, console, shm, mqueue); listing them again breaks their setup.
  const skip = (p: string) => p === "/dev/console" || p === "/dev/ptmx" || /^\/dev\/(pts|shm|mqueue)(\/|$)/.test(p);
  return host.devices
    .filter((d) => !skip(d.path))
    .map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid }));
}

export function generateSpec(input: SpecInput): RuntimeSpec {
  const { options: o, host } = input;
  const privileged = !!o.privileged;
  if (typeof input.rootfs !== "string" || !input.rootfs.startsWith("/")) throw invalid(`invalid rootfs "${String(input.rootfs)}": must be an absolute path`);
  if (o.stopSignal !== undefined && o.stopSignal !== "") parseSignal(o.stopSignal);

  // Namespaces.
  const netHost = o.network === "host";
  const namespaces: SpecLinux["namespaces"] = [];
  if (o.pid !== "host") namespaces.push({ type: "pid" });
  if (!netHost) namespaces.push(input.netnsPath ? { type: "network", path: absPath("netns path", input.netnsPath) } : { type: "network" });
  if (o.ipc !== "host") namespaces.push({ type: "ipc" });
  if (o.uts !== "host") namespaces.push({ type: "uts" });
  namespaces.push({ type: "mount" });
  if (host.cgroupVersion === 2) namespaces.push({ type: "cgroup" });
  const userns = userNamespace(o, host);
  if (userns) namespaces.push({ type: "user" });

  // Hostname.
  let hostname: string | undefined;
  if (o.uts === "host") {
    if (o.hostname) throw invalid(`invalid --hostname "${o.hostname}": conflicts with --uts host`);
    hostname = undefined;
  } else {
    hostname = o.hostname || (netHost && host.hostname ? host.hostname : input.id.slice(0, 12));
    if (hostname.length > 64 || !HOSTNAME_RE.test(hostname)) throw invalid(`invalid --hostname "${hostname}": not a valid host name (letters, digits, ".", "-", "_"; at most 64)`);
  }
  const envHostname = o.uts === "host" ? host.hostname : hostname;

  // Process.
  const merged = mergeProcessArgs(input.image, o);
  let args = [merged.path, ...merged.args];
  if (o.init) {
    if (!host.initPath) throw precondition("--init: catatonit is not installed");
    args = [input.initMountPath ?? DEFAULT_INIT_MOUNT_PATH, "--", ...args];
  }
  const rawCwd = o.workdir || input.image.WorkingDir || "/";
  const cwd = absPath(o.workdir ? "--workdir" : "image WorkingDir", rawCwd);

  const caps = capabilitySet(o, host.capLastCap, host.capBounding);
  const sec = parseSecurityOpts(o.securityOpt);

  const process: SpecProcess = {
    terminal: !!o.tty,
    user: { uid: input.user.uid, gid: input.user.gid },
    args,
    env: buildEnv(input, envHostname),
    cwd,
    capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
  };
  if (input.user.additionalGids.length) process.user.additionalGids = [...input.user.additionalGids];
  const rlimits = buildRlimits(o.ulimits, host.hardLimits);
  if (rlimits.length) process.rlimits = rlimits;
  if (sec.noNewPrivileges) process.noNewPrivileges = true;
  if (o.oomScoreAdj !== undefined) process.oomScoreAdj = validateOomScoreAdj(o.oomScoreAdj);

  // AppArmor: an explicit profile always; otherwise the host default unless privileged.
  if (sec.apparmor !== undefined && sec.apparmor !== "unconfined") {
    if (!host.apparmor?.enabled) throw invalid(`invalid --security-opt "apparmor=${sec.apparmor}": AppArmor is not enabled on this host`);
    process.apparmorProfile = sec.apparmor;
  } else if (sec.apparmor === undefined && !privileged && host.apparmor?.enabled && host.apparmor.defaultProfile) {
    process.apparmorProfile = host.apparmor.defaultProfile;
  }

  // SELinux: only labels the user spelled out, and only where SELinux is on (Docker ignores them elsewhere).
  let mountLabel: string | undefined;
  const lp = sec.label.parts;
  if (host.selinux && !sec.label.disable && (lp.user || lp.role || lp.type || lp.level)) {
    const level = lp.level ?? "s0";
    process.selinuxLabel = `${lp.user ?? "system_u"}:${lp.role ?? "system_r"}:${lp.type ?? "container_t"}:${level}`;
    mountLabel = `${lp.user ?? "system_u"}:object_r:${lp.filetype ?? "container_file_t"}:${level}`;
  }

  // Seccomp: none for --privileged (Docker ignores any profile then) or seccomp=unconfined.
  let seccomp: LinuxSeccomp | undefined;
  if (!privileged && sec.seccomp !== "unconfined") {
    if (sec.seccomp === "default") {
      if (host.seccomp) seccomp = defaultSeccomp({ capabilities: [...caps], arch: host.arch });
    } else {
      const file = sec.seccomp.file;
      if (!host.seccomp) throw invalid(`invalid --security-opt "seccomp=${file}": seccomp is not enabled in this kernel`);
      if (input.seccompProfile === undefined) throw invalid(`invalid --security-opt "seccomp=${file}": the profile was not loaded`);
      seccomp = convertSeccompProfile(input.seccompProfile, { capabilities: caps, arch: host.arch, kernelVersion: host.kernelVersion, file });
    }
  }

  // Masked and read-only paths.
  let masked: string[] = [];
  let readonly: string[] = [];
  if (!privileged && !sec.systemPathsUnconfined) {
    masked = defaultMaskedPaths(host);
    readonly = [...DEFAULT_READONLY_PATHS];
  }
  for (const p of sec.mask) if (!masked.includes(p)) masked.push(p);
  if (sec.unmask.includes("ALL")) {
    masked = masked.filter((p) => sec.mask.includes(p));
    readonly = [];
  } else {
    masked = masked.filter((p) => !sec.unmask.includes(p));
    readonly = readonly.filter((p) => !sec.unmask.includes(p));
  }

  // Resources.
  const resources = buildResources(o, host);
  resources.devices = privileged ? privilegedDeviceRules() : defaultDeviceRules();

  const sysctl = validateSysctls(o.sysctls, { privateNet: !netHost, privateIpc: o.ipc !== "host", privateUts: o.uts !== "host" });

  const linux: SpecLinux = { namespaces };
  if (userns) {
    linux.uidMappings = userns.uidMappings;
    linux.gidMappings = userns.gidMappings;
  }
  if (privileged) linux.devices = hostDevices(host);
  linux.cgroupsPath = input.cgroupsPath;
  linux.resources = resources;
  if (Object.keys(sysctl).length) linux.sysctl = sysctl;
  if (seccomp) linux.seccomp = seccomp;
  if (masked.length) linux.maskedPaths = masked;
  if (readonly.length) linux.readonlyPaths = readonly;
  if (mountLabel) linux.mountLabel = mountLabel;

  return {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfs, readonly: !!o.readOnly },
    ...(hostname !== undefined ? { hostname } : {}),
    mounts: withDevptsGroup(buildMounts(input, !netHost, !!userns), userns?.gidMappings),
    annotations: { "berth.container.id": input.id },
    linux,
  };
}

/**
 * Every check generateSpec makes that depends only on the options and the host (flags, values, security
 * options, resources, mounts), for `create` and `update` to fail before touching anything. Checks that need
 * the image or the rootfs (its Cmd, WorkingDir, /etc/passwd) and the contents of a seccomp=FILE profile are
 * left to generateSpec.
 */
export function validateOptions(options: ContainerOptions, host: HostFacts): void {
  const hasProfileFile = (options.securityOpt ?? []).some((s) => /^seccomp[=:]/.test(s.trim()) && !/^seccomp[=:]unconfined$/.test(s.trim()));
  generateSpec({
    id: "0".repeat(64),
    rootfs: "/",
    image: { Cmd: ["/bin/sh"] },
    options,
    user: { uid: 0, gid: 0, additionalGids: [], home: "/root" },
    host,
    cgroupsPath: "berth/validate",
    ...(hasProfileFile ? { seccompProfile: { defaultAction: "SCMP_ACT_ALLOW" } } : {}),
  });
}
