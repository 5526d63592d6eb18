/**
 * Linux capabilities: names by number (include/uapi/linux/capability.h), Docker's default set and
 * Docker's --cap-add/--cap-drop/--privileged arithmetic.
 */
import { invalid } from "../errors.js";

/** Capability names indexed by their number, 0..40 (CAP_CHECKPOINT_RESTORE, Linux 5.9). */
export const ALL_CAPABILITIES: readonly string[] = Object.freeze([
  "CAP_CHOWN", // 0
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL", // 5
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE", // 10
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER", // 15
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT", // 20
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", // 25
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL", // 30
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM", // 35
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE", // 40
]);

const NUMBER_OF = new Map(ALL_CAPABILITIES.map((n, i) => [n, i]));

/** Docker's default bounding set (CapEff 0x00000000a80425fb), in capability-number order. */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_RAW",
  "CAP_SYS_CHROOT",
  "CAP_MKNOD",
  "CAP_AUDIT_WRITE",
  "CAP_SETFCAP",
]);

/**
 * "net_admin", "NET_ADMIN", "cap_net_admin" -> "CAP_NET_ADMIN"; "all" -> "ALL".
 * Unknown names throw INVALID_ARGUMENT (the caller prefixes the flag).
 */
export function normalizeCapability(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === "ALL") return "ALL";
  const full = up.startsWith("CAP_") ? up : `CAP_${up}`;
  if (!NUMBER_OF.has(full)) throw invalid(`unknown capability "${name}"`);
  return full;
}

function normalizeList(flag: string, names: string[] | undefined): string[] {
  const out: string[] = [];
  for (const n of names ?? []) {
    let c: string;
    try {
      c = normalizeCapability(n);
    } catch {
      throw invalid(`invalid ${flag} "${n}": unknown capability`);
    }
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

export interface CapabilityOptions {
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
}

/**
 * The container's capability set, Docker's rules:
 * - --privileged: every capability the host knows (0..lastCap), add/drop ignored;
 * - --cap-add ALL: every capability except the dropped ones;
 * - --cap-drop ALL: only the added ones;
 * - otherwise the defaults minus the dropped ones plus the added ones (an add beats a drop of the same name).
 * Capabilities above the host's cap_last_cap are left out (the kernel would reject them), and so are those
 * outside `available` (berth's own bounding set, when known: a process cannot grant what it lacks), except
 * that naming such a capability in --cap-add is an error rather than a silent no-op.
 * The result is ordered by capability number.
 */
export function capabilitySet(opts: CapabilityOptions, lastCap: number, available?: Iterable<string>): string[] {
  const have = available === undefined ? undefined : new Set([...available].map((c) => normalizeCapability(c)));
  const known = (c: string) => (NUMBER_OF.get(c) ?? Infinity) <= lastCap && (have === undefined || have.has(c));
  const all = ALL_CAPABILITIES.filter(known);
  const add = normalizeList("--cap-add", opts.capAdd);
  const drop = normalizeList("--cap-drop", opts.capDrop);
  if (opts.privileged) return all;
  for (const c of add) {
    if (c !== "ALL" && have !== undefined && !have.has(c) && (NUMBER_OF.get(c) ?? Infinity) <= lastCap)
      throw invalid(`invalid --cap-add "${opts.capAdd!.find((x) => normalizeCapability(x) === c)}": berth itself lacks ${c}, so it cannot grant it`);
  }
  let caps: string[];
  if (add.includes("ALL")) caps = all.filter((c) => !drop.includes(c));
  else if (drop.includes("ALL")) caps = add;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add];
  return [...new Set(caps)].filter(known).sort((a, b) => NUMBER_OF.get(a)! - NUMBER_OF.get(b)!);
}

/** The bit mask of a set of capability names (as in /proc/self/status CapEff). */
export function capMask(names: Iterable<string>): bigint {
  let m = 0n;
  for (const n of names) {
    const c = normalizeCapability(n);
    if (c === "ALL") throw invalid(`capMask: "ALL" is not a capability`);
    m |= 1n << BigInt(NUMBER_OF.get(c)!);
  }
  return m;
}
