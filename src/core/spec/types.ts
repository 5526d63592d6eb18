/**
 * What a user asks of a container (CLI flags, API fields), the host facts spec generation depends on, and
 * the subset of the OCI runtime spec berth writes. All plain data: stored as JSON in the container row.
 */

export interface UlimitOption {
  /** Docker's short name: nofile, nproc, core, ... */
  name: string;
  soft: number;
  hard: number;
}

export interface RestartPolicy {
  name: "no" | "on-failure" | "always" | "unless-stopped";
  /** on-failure only; 0 = unlimited. */
  maximumRetryCount: number;
}

export interface ContainerOptions {
  /** The image as the user named it. */
  image: string;
  name?: string;
  /** undefined: the image's. [] (or [""] from `--entrypoint ""`): cleared. Setting it also clears the image's CMD. */
  entrypoint?: string[];
  /** Arguments after the image; replace the image's CMD when non-empty. */
  cmd?: string[];
  /** KEY=VALUE (or KEY alone: take the value from `hostEnv`), in order; later wins, over the image's. */
  env?: string[];
  workdir?: string;
  /** user[:group], names or numbers, resolved in the container's /etc/passwd and /etc/group. */
  user?: string;
  groupAdd?: string[];
  hostname?: string;
  tty?: boolean;
  interactive?: boolean;
  /** "host" shares the host's namespace; default private. */
  pid?: "host" | "private";
  ipc?: "host" | "private" | "shareable";
  uts?: "host" | "private";
  /** "host" (default: no user namespace), "keep-id", or explicit maps. */
  userns?: "host" | "keep-id";
  uidMaps?: IdMap[];
  gidMaps?: IdMap[];
  /** Bytes; default 64 MiB. */
  shmSize?: number;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** Raw --security-opt values: no-new-privileges[:true|false], seccomp=unconfined|FILE, apparmor=P, label=... */
  securityOpt?: string[];
  /** Bytes. */
  memory?: number;
  /** Bytes of memory+swap; -1 unlimited swap. */
  memorySwap?: number;
  memoryReservation?: number;
  /** Fractional CPUs, e.g. 1.5. */
  cpus?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
  blkioWeight?: number;
  ulimits?: UlimitOption[];
  readOnly?: boolean;
  /** container path -> mount options (e.g. "size=64m,mode=1777"), "" for defaults. */
  tmpfs?: Record<string, string>;
  sysctls?: Record<string, string>;
  /** Run catatonit as PID 1. */
  init?: boolean;
  stopSignal?: string;
  /** Seconds before SIGKILL on stop (default 10). */
  stopTimeout?: number;
  restart?: RestartPolicy;
  labels?: Record<string, string>;
  /** --rm */
  autoRemove?: boolean;
  /** runc, crun, or a path. */
  runtime?: string;
  /**
   * Network mode: a network's name or ID (default "berth", the default bridge), "none" (own netns, lo
   * only), "host", "container:NAME|ID" (share its netns), "ns:/path" (join a named netns).
   */
  network?: string;
  /** Static addresses on the first network (--ip, --ip6). */
  ip?: string;
  ip6?: string;
  /** --network-alias: extra names on the first network. */
  networkAliases?: string[];
  /** --mac-address on the first network (default: stable per container and network). */
  macAddress?: string;
  /** -p [ip:]host:container[/proto]. */
  publish?: PortMapping[];
  /** -P: publish every EXPOSEd port of the image on a free host port. */
  publishAll?: boolean;
  /** --dns, --dns-search, --dns-option. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** --add-host NAME:IP. */
  addHosts?: string[];
  /** Bind mounts, named and anonymous volumes, tmpfs mounts (-v, --mount). */
  mounts?: MountOption[];
  /**
   * --volumes-from CTR[:ro|rw]: the volume and bind mounts of other containers. Resolved at create: the
   * stored container has their mounts copied into `mounts` (as Docker resolves them once).
   */
  volumesFrom?: string[];
  /** Files copied into the container's own (upper) layer at create, before the first start. */
  files?: FileInjection[];
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  /**
   * Keep the container's named netns (and every link in it) across stops; it goes with the container.
   * A lab's data links live in its nodes' netns, so `lab down` / `lab resume` keep them intact.
   */
  keepNetns?: boolean;
}

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

export interface MountOption {
  /** "volume": a named volume (`source` is its name) or, without a source, an anonymous one. */
  type: "bind" | "tmpfs" | "volume";
  source?: string;
  destination: string;
  readOnly?: boolean;
  options?: string[];
  /** Volumes only: do not seed a new, empty volume with the image's content at `destination` (volume-nocopy). */
  noCopy?: boolean;
  /** Volumes only: the volume is anonymous (created for this container; `rm -v` and `--rm` remove it). */
  anonymous?: boolean;
  /** Copied from another container by --volumes-from (that container's name). */
  from?: string;
}

export interface PortMapping {
  hostIp?: string;
  /** 0: choose a free port (with -P, or -p CONTAINER alone). */
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** One file or directory to place in a container before its first start (the lab's startup configs). */
export interface FileInjection {
  /** Host path of a file or directory. */
  source: string;
  /** Absolute path in the container that the source becomes (a directory is merged into an existing one). */
  destination: string;
  /** User name or uid in the image's /etc/passwd (default root). */
  owner?: string | number;
  /** Group name or gid in the image's /etc/group (default: the owner's primary group). */
  group?: string | number;
  /** Permission bits of the destination itself (default: the source's). */
  mode?: number;
}

/** Facts about the host, probed once per engine. */
export interface HostFacts {
  /** OCI/Go architecture name: amd64, arm64, ... (selects seccomp architectures). */
  arch: string;
  cgroupVersion: 1 | 2;
  /** /proc/sys/kernel/cap_last_cap: --privileged gets every capability up to this one. */
  capLastCap: number;
  /**
   * berth's own bounding set ("CAP_..." names decoded from CapBnd in /proc/self/status). When present,
   * --privileged and --cap-add ALL get only these, and --cap-add of a missing one is an error: runc cannot
   * grant a capability its caller lacks (this VM's root lacks CAP_SYS_RESOURCE). Absent: all up to capLastCap.
   */
  capBounding?: string[];
  /** The kernel supports seccomp filters. */
  seccomp: boolean;
  /** AppArmor is enabled; its default profile name for containers, if loaded. */
  apparmor?: { enabled: boolean; defaultProfile?: string };
  selinux: boolean;
  /** Current hard limits of berth's process, by Docker's short name (nofile, nproc, ...). */
  hardLimits: Record<string, number>;
  /** Host devices exposed to --privileged containers. */
  devices: HostDevice[];
  /** The host has /proc/kcore (masked when present). */
  procKcore: boolean;
  /** Path of catatonit on the host, when installed. */
  initPath?: string;
  /** The calling user's uid/gid (for userns keep-id). */
  uid: number;
  gid: number;
  /** CPU period used for --cpus (default 100000). */
  cpuPeriod?: number;
  /**
   * Subordinate uid/gid ranges berth may map into user namespaces (from /etc/subuid and /etc/subgid: the
   * calling user's entry, or the "containers" entry when berth runs as root, as Podman does). --userns keep-id
   * maps every container id except the caller's own into this range; without one only the caller's id is mapped.
   */
  subUids?: { start: number; size: number };
  subGids?: { start: number; size: number };
  /** `uname -r` (e.g. "6.1.0-18-amd64"): seccomp=FILE rules with a `minKernel` above it are left out. */
  kernelVersion?: string;
  /** The host's hostname (os.hostname()): HOSTNAME in the env of --uts host / --network host containers. */
  hostname?: string;
}

export interface HostDevice {
  path: string;
  type: "c" | "b" | "p";
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** The result of resolving `-u` in the container's /etc/passwd and /etc/group. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** HOME from passwd, "/" when unknown (Docker's fallback). */
  home: string;
  /** The name, when the user was found in /etc/passwd. */
  username?: string;
}

/** Everything the pure generator needs. */
export interface SpecInput {
  id: string;
  /** Absolute path of the container's root filesystem (the overlay mount). */
  rootfs: string;
  /** The image config's `config` object (Docker keys: Env, Cmd, Entrypoint, WorkingDir, User, StopSignal...). */
  image: ImageRuntimeConfig;
  options: ContainerOptions;
  user: ResolvedUser;
  host: HostFacts;
  /** e.g. "berth/<id>" (relative) or "/berth.slice/<id>". */
  cgroupsPath: string;
  /** Where the init binary is bind-mounted in the container when options.init. */
  initMountPath?: string;
  /** Parsed seccomp profile from a FILE given as seccomp=FILE (the engine reads the file). */
  seccompProfile?: unknown;
  /** Env of the berth process, for `-e KEY` without a value. */
  hostEnv?: Record<string, string | undefined>;
  /** Extra mounts prepared by the engine (hostname/hosts/resolv.conf files; volumes later). */
  extraMounts?: SpecMount[];
  /** Path of a named netns to join (issue 4); otherwise a new one. */
  netnsPath?: string;
}

export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
}

// ---- OCI runtime spec (the subset berth writes; field names as in the spec) ----

export interface RuntimeSpec {
  ociVersion: string;
  process: SpecProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: SpecMount[];
  annotations?: Record<string, string>;
  linux: SpecLinux;
}

export interface SpecProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] };
  rlimits?: { type: string; hard: number; soft: number }[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  selinuxLabel?: string;
  oomScoreAdj?: number;
}

export interface SpecMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface SpecLinux {
  namespaces: { type: "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup"; path?: string }[];
  uidMappings?: IdMap[];
  gidMappings?: IdMap[];
  devices?: { path: string; type: string; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }[];
  cgroupsPath?: string;
  resources?: SpecResources;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

export interface SpecResources {
  devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
  memory?: { limit?: number; reservation?: number; swap?: number; disableOOMKiller?: boolean; swappiness?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: { names: string[]; action: string; errnoRet?: number; args?: { index: number; value: number; valueTwo?: number; op: string }[] }[];
}
