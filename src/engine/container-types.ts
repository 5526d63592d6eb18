import type { Readable, Writable } from "node:stream";
import type { ContainerOptions } from "../core/spec/types.js";
import type { RegistryAccess } from "./images.js";

/** Docker's state names. "removing"/"dead" are not used by berth. */
export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "exited";

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  State: ContainerStatus;
  /** Docker's human text: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
  Status: string;
  ExitCode: number;
  Labels: Record<string, string>;
  Pid: number;
}

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

/** Docker-shaped `inspect` document (the fields berth fills). */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: "overlay";
  Platform: "linux";
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: Record<string, unknown>;
  GraphDriver: { Name: "overlay"; Data: { LowerDir: string; UpperDir: string; WorkDir: string; MergedDir: string } };
  Mounts: { Type: string; Source: string; Destination: string; Mode: string; RW: boolean; Propagation: string }[];
  Config: {
    Hostname: string;
    User: string;
    Tty: boolean;
    OpenStdin: boolean;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    Image: string;
    WorkingDir: string;
    Labels: Record<string, string>;
    StopSignal: string;
    StopTimeout: number;
  };
  NetworkSettings: {
    Networks: Record<string, { NetworkID: string; IPAddress: string; IPPrefixLen: number; GlobalIPv6Address: string; GlobalIPv6PrefixLen: number; Gateway: string; IPv6Gateway: string; MacAddress: string; Aliases: string[]; Interface: string }>;
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
    SandboxKey: string;
  };
  /** berth extras: the runtime and the bundle. */
  OCIRuntime: string;
  BundlePath: string;
}

export interface CreateRequest extends RegistryAccess {
  /** Pull policy when the image is not in the store (default "missing"). */
  pull?: "missing" | "always" | "never";
  onPullEvent?: (e: unknown) => void;
}

export interface StreamSet {
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
}

export interface AttachOptions extends StreamSet {
  /** Set the terminal size of a -t container and follow resizes (the CLI passes process.stdout). */
  tty?: { columns: number; rows: number; onResize?: (cb: (size: { columns: number; rows: number }) => void) => void };
  signal?: AbortSignal;
}

export interface LogsOptions {
  follow?: boolean;
  /** Last N lines; undefined = all. */
  tail?: number;
  /** Unix seconds (fractional); only lines at or after. */
  since?: number;
  until?: number;
  timestamps?: boolean;
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
}

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  user?: string;
  workdir?: string;
  tty?: boolean;
  interactive?: boolean;
  detach?: boolean;
  privileged?: boolean;
  /** Inherit the CLI's stdio (the CLI passes "inherit"; the library passes streams). */
  stdio: "inherit" | StreamSet;
}

export interface ListOptions {
  all?: boolean;
  /** Docker filters: id, name, label (k or k=v), status, ancestor, exited. Repeated keys OR, different keys AND. */
  filters?: Record<string, string[]>;
  /** Only the N newest (-n), or only the newest (-l: last 1). */
  last?: number;
}

export interface StatsSample {
  Id: string;
  Name: string;
  /** Percent of one host CPU times the number of CPUs (Docker's CPU %). */
  CPUPerc: number;
  MemUsage: number;
  MemLimit: number;
  MemPerc: number;
  PIDs: number;
  /** Cumulative CPU nanoseconds, for the next sample's delta. */
  cpuNs: number;
  /** Host time of the sample, nanoseconds. */
  at: number;
}

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** The resources (and restart policy) `update` may change on an existing container. */
export type UpdateRequest = Pick<
  ContainerOptions,
  "memory" | "memorySwap" | "memoryReservation" | "cpus" | "cpuShares" | "cpusetCpus" | "cpusetMems" | "pidsLimit" | "blkioWeight" | "restart"
>;

/** What the CLI and the HTTP API call. Refs are a full ID, a unique ID prefix, or a name. */
export interface ContainersApi {
  create(opts: ContainerOptions, req?: CreateRequest): Promise<{ id: string; warnings: string[] }>;
  start(ref: string, opts?: { peersListed?: boolean }): Promise<void>;
  /** Stream output (and relay stdin) until the container exits; resolves to its exit code. Call before start() to miss nothing. */
  attach(ref: string, opts: AttachOptions): Promise<number>;
  stop(ref: string, opts?: { timeout?: number; signal?: string }): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  restart(ref: string, opts?: { timeout?: number }): Promise<void>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  remove(ref: string, opts?: { force?: boolean; volumes?: boolean }): Promise<string>;
  list(opts?: ListOptions): Promise<ContainerSummary[]>;
  inspect(ref: string): Promise<ContainerInspect>;
  logs(ref: string, opts: LogsOptions): Promise<void>;
  /** Resolves to the exit code once the container is not running (or, with "removed", is gone). */
  wait(ref: string, opts?: { condition?: "not-running" | "next-exit" | "removed"; signal?: AbortSignal }): Promise<number>;
  exec(ref: string, opts: ExecOptions): Promise<number>;
  top(ref: string, psArgs?: string[]): Promise<TopResult>;
  stats(refs: string[], opts?: { all?: boolean }): Promise<StatsSample[]>;
  rename(ref: string, name: string): Promise<void>;
  update(ref: string, req: UpdateRequest): Promise<void>;
  /** Internal: conmon's exit command. Records the exit, cleans up, applies the restart policy. `run` names the run it belongs to. */
  cleanup(id: string, opts?: { run?: number }): Promise<void>;
  /** After a host boot: start `always`/`unless-stopped` containers; reconcile the rest. */
  boot(): Promise<{ started: string[] }>;
  prune(): Promise<{ removed: string[] }>;
}
