/**
 * The fixed parts of a container's spec that Docker and Podman also use: the kernel filesystems every
 * container gets, the /proc and /sys paths hidden or made read-only, and the device cgroup allow-list.
 */
import type { HostFacts, SpecMount, SpecResources } from "./types.js";

export const DEFAULT_PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Docker's /dev/shm size (64 MiB). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where --init's catatonit is bind-mounted inside the container. */
export const DEFAULT_INIT_MOUNT_PATH = "/run/berth-init";

/** Byte counts as a tmpfs size= value: "65536k" for 64 MiB, plain bytes when not a multiple of 1 KiB. */
export function tmpfsSize(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024}k` : String(bytes);
}

export interface DefaultMountOptions {
  shmSize?: number;
  /** --ipc host: the host's /dev/shm and /dev/mqueue are bind-mounted instead of fresh instances. */
  ipcHost?: boolean;
  /** --privileged (without --read-only): /sys and /sys/fs/cgroup are writable. */
  writableSys?: boolean;
}

/** The kernel filesystems of Docker's default spec, in the order runtimes mount them (parents first). */
export function defaultMounts(o: DefaultMountOptions = {}): SpecMount[] {
  const sysOpt = o.writableSys ? "rw" : "ro";
  const shm: SpecMount = o.ipcHost
    ? { destination: "/dev/shm", type: "bind", source: "/dev/shm", options: ["rbind", "nosuid", "noexec", "nodev"] }
    : {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${tmpfsSize(o.shmSize ?? DEFAULT_SHM_SIZE)}`],
      };
  const mqueue: SpecMount = o.ipcHost
    ? { destination: "/dev/mqueue", type: "bind", source: "/dev/mqueue", options: ["rbind", "nosuid", "noexec", "nodev"] }
    : { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] };
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    shm,
    mqueue,
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", sysOpt] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", sysOpt] },
  ];
}

/** Docker's masked paths; /proc/kcore only where the host has it (masking a missing file fails in runc). */
export function defaultMaskedPaths(host: Pick<HostFacts, "procKcore">): string[] {
  return [
    "/proc/asound",
    "/proc/acpi",
    ...(host.procKcore ? ["/proc/kcore"] : []),
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
  ];
}

export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
]);

type DeviceRule = NonNullable<SpecResources["devices"]>[number];

const allow = (type: "c" | "b", major: number | undefined, minor: number | undefined, access: string): DeviceRule => {
  const r: DeviceRule = { allow: true, type };
  if (major !== undefined) r.major = major;
  if (minor !== undefined) r.minor = minor;
  r.access = access;
  return r;
};

/**
 * The device cgroup rules of an unprivileged container: deny everything, then the allow-list runc applies
 * for Docker (mknod of any node; the standard character devices; ptys; /dev/net/tun). Written out in the
 * spec so crun and runc enforce the same list.
 */
export function defaultDeviceRules(): DeviceRule[] {
  return [
    { allow: false, access: "rwm" },
    allow("c", undefined, undefined, "m"),
    allow("b", undefined, undefined, "m"),
    allow("c", 1, 3, "rwm"), // /dev/null
    allow("c", 1, 5, "rwm"), // /dev/zero
    allow("c", 1, 7, "rwm"), // /dev/full
    allow("c", 1, 8, "rwm"), // /dev/random
    allow("c", 1, 9, "rwm"), // /dev/urandom
    allow("c", 5, 0, "rwm"), // /dev/tty
    allow("c", 5, 1, "rwm"), // /dev/console
    allow("c", 5, 2, "rwm"), // /dev/ptmx
    allow("c", 136, undefined, "rwm"), // /dev/pts/*
    allow("c", 10, 200, "rwm"), // /dev/net/tun
  ];
}

/** --privileged: every device. */
export function privilegedDeviceRules(): DeviceRule[] {
  return [{ allow: true, access: "rwm" }];
}
