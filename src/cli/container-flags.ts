/**
 * Docker's `run`/`create` flags: the commander options, and the pure translation of their raw string values
 * into ContainerOptions. Parsing of every value happens here so a bad flag fails before the engine opens.
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { invalid } from "../core/errors.js";
import { MIN_MEMORY, ULIMIT_NAMES } from "../core/spec/resources.js";
import { parseSignal as signalNumber, signalName } from "../core/spec/signals.js";
import type { ContainerOptions, IdMap, MountOption, RestartPolicy, UlimitOption } from "../core/spec/types.js";
import type { UpdateRequest } from "../engine/container-types.js";
import { withRegistryFlags } from "./context.js";
import { toNetworkOptions, type NetworkFlagValues } from "./port-flags.js";
import { VOLUME_NAME_RE } from "../volume/names.js";
import { parseVolumesFrom } from "../volume/plan.js";

/** Raw option values as commander leaves them. */
export interface ContainerFlagValues extends NetworkFlagValues {
  name?: string;
  entrypoint?: string;
  env?: string[];
  envFile?: string[];
  workdir?: string;
  user?: string;
  groupAdd?: string[];
  hostname?: string;
  tty?: boolean;
  interactive?: boolean;
  rm?: boolean;
  pid?: string;
  ipc?: string;
  uts?: string;
  userns?: string;
  uidmap?: string[];
  gidmap?: string[];
  shmSize?: string;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  ulimit?: string[];
  readOnly?: boolean;
  tmpfs?: string[];
  sysctl?: string[];
  init?: boolean;
  stopSignal?: string;
  stopTimeout?: string;
  restart?: string;
  label?: string[];
  labelFile?: string[];
  runtime?: string;
  network?: string;
  net?: string;
  volume?: string[];
  mount?: string[];
  volumesFrom?: string[];
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
}

/** What the translation may read: the host environment (for bare `-e KEY`) and files (--env-file, --label-file). */
export interface FlagEnv {
  hostEnv: Record<string, string | undefined>;
  readFile(path: string): string;
}

export const processFlagEnv = (): FlagEnv => ({ hostEnv: process.env, readFile: (p) => readFileSync(p, "utf8") });

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** The resource flags `run`, `create` and `update` share. */
export function withResourceFlags(cmd: Command): Command {
  return cmd
    .option("-m, --memory <bytes>", "memory limit (e.g. 512m, 1g)")
    .option("--memory-swap <bytes>", "memory plus swap limit; -1 for unlimited swap")
    .option("--memory-reservation <bytes>", "memory soft limit")
    .option("--cpus <number>", "number of CPUs (e.g. 1.5)")
    .option("-c, --cpu-shares <weight>", "CPU shares (relative weight)")
    .option("--cpuset-cpus <list>", "CPUs to run on (0-3, 0,1)")
    .option("--cpuset-mems <list>", "memory nodes to use (0-3, 0,1)")
    .option("--pids-limit <n>", "process limit; -1 for unlimited")
    .option("--blkio-weight <weight>", "block IO weight, 10 to 1000 (0 disables)")
    .option("--restart <policy>", "no, on-failure[:max-retries], always or unless-stopped");
}

/** Adds Docker's container flags to `run` or `create` (`-d` and the attach flags only on run). */
export function withContainerFlags(cmd: Command, run: boolean): Command {
  // -h is --hostname, as in Docker; help stays on --help.
  cmd.helpOption("--help", "display help for command");
  if (run) {
    cmd
      .option("-d, --detach", "run in the background and print the container ID")
      .addOption(new Option("--sig-proxy [bool]", "forward received signals to the container (default true; off with -t)").argParser(parseBool("--sig-proxy")));
  }
  cmd
    .option("--name <name>", "assign a name to the container")
    .option("--entrypoint <command>", 'override the image\'s ENTRYPOINT ("" clears it)')
    .option("-e, --env <KEY=VALUE>", "set an environment variable (KEY alone: take it from this shell)", collect)
    .option("--env-file <file>", "read environment variables from a file", collect)
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("-u, --user <user[:group]>", "user name or UID, optionally with a group")
    .option("--group-add <group>", "additional group", collect)
    .option("-h, --hostname <name>", "container host name")
    .option("-t, --tty", "allocate a pseudo-TTY")
    .option("-i, --interactive", "keep STDIN open")
    .option("--rm", "remove the container when it exits")
    .option("-q, --quiet", "do not print pull progress")
    .addOption(new Option("--pull <policy>", "pull the image: missing, always or never").choices(["missing", "always", "never"]).default("missing"))
    .option("--pid <mode>", "PID namespace: host or private")
    .option("--ipc <mode>", "IPC namespace: host, private or shareable")
    .option("--uts <mode>", "UTS namespace: host or private")
    .option("--userns <mode>", "user namespace: host or keep-id")
    .option("--uidmap <container:host:size>", "UID mapping for a user namespace", collect)
    .option("--gidmap <container:host:size>", "GID mapping for a user namespace", collect)
    .option("--shm-size <bytes>", "size of /dev/shm (default 64m)")
    .option("--cap-add <caps>", "add capabilities (comma lists allowed)", collect)
    .option("--cap-drop <caps>", "drop capabilities (comma lists allowed)", collect)
    .option("--privileged", "give extended privileges to the container")
    .option("--security-opt <option>", "no-new-privileges, seccomp=unconfined|FILE, apparmor=PROFILE, label=...", collect);
  withResourceFlags(cmd);
  return withRegistryFlags(
    cmd
      .option("--ulimit <name=soft[:hard]>", "resource limit (e.g. nofile=1024:2048)", collect)
      .option("--read-only", "mount the root filesystem read-only")
      .option("--tmpfs <path[:options]>", "mount a tmpfs (e.g. /run:size=64m)", collect)
      .option("--sysctl <key=value>", "namespaced kernel parameter", collect)
      .option("--init", "run an init (catatonit) as PID 1 that reaps zombies and forwards signals")
      .option("--stop-signal <signal>", "signal that stops the container (default SIGTERM)")
      .option("--stop-timeout <seconds>", "seconds to wait on stop before SIGKILL (default 10)")
      .option("-l, --label <key=value>", "set a label", collect)
      .option("--label-file <file>", "read labels from a file", collect)
      .option("--runtime <runtime>", "OCI runtime: runc, crun or a path")
      .option("--network <name|mode>", "connect to a network (default berth), or none, host, container:NAME, ns:/path")
      .addOption(new Option("--net <mode>", "alias of --network").hideHelp())
      .option("--ip <address>", "IPv4 address on the network (e.g. 172.30.0.10)")
      .option("--ip6 <address>", "IPv6 address on the network")
      .option("--network-alias <name>", "extra name of the container on the network", collect)
      .option("--mac-address <mac>", "MAC address on the network (e.g. 02:42:ac:11:00:02)")
      .option("-p, --publish <[ip:][hostPort]:containerPort[/proto]>", "publish a container port (or range) on the host; no host port: pick a free one", collect)
      .option("-P, --publish-all", "publish every exposed port of the image on a free host port")
      .option("--dns <ip>", "DNS server for /etc/resolv.conf", collect)
      .option("--dns-search <domain>", "DNS search domain (\".\" for none)", collect)
      .option("--dns-option <option>", "resolver option (e.g. ndots:2)", collect)
      .option("--add-host <name:ip>", "add a line to /etc/hosts (name:ip or name=ip)", collect)
      .option("-v, --volume <source:container[:opts]>", "bind-mount a host path (/host:/ctr), mount a named volume (NAME:/ctr, created on first use) or an anonymous one (/ctr); opts: ro, rw, nocopy, propagation", collect)
      .option("--mount <spec>", "mount: type=bind|volume|tmpfs,source=...,target=/c[,readonly][,volume-nocopy][,tmpfs-size=64m][,tmpfs-mode=1777]", collect)
      .option("--volumes-from <container[:ro|rw]>", "mount the volumes and binds of another container", collect)
      .option("--oom-kill-disable", "disable the OOM killer")
      .option("--oom-score-adj <n>", "OOM score adjustment (-1000 to 1000)"),
  );
}

export function parseBool(flag: string) {
  return (v: string | undefined): boolean => {
    if (v === undefined || v === "true") return true;
    if (v === "false") return false;
    throw invalid(`invalid ${flag} "${v}": expected true or false`);
  };
}

// ---- value parsers (each error names the flag and the value) ----

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes: 512m, 1g, 1.5GiB, 100k, 4096; binary units whatever the suffix spelling. */
export function parseSize(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([bkmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m || (m[2] === "" && m[3]?.toLowerCase() === "ib") || (m[2]?.toLowerCase() === "b" && m[3])) throw invalid(`invalid ${flag} "${value}": expected a size such as 512m`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

export function parseInteger(flag: string, value: string, min = -Infinity, max = Infinity): number {
  const n = /^[-+]?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw invalid(`invalid ${flag} "${value}": expected an integer`);
  if (n < min || n > max) throw invalid(`invalid ${flag} "${value}": expected ${max === Infinity ? `at least ${min}` : `${min} to ${max}`}`);
  return n;
}

export function parseRestart(value: string): RestartPolicy {
  const [name, count, ...rest] = value.split(":");
  if (rest.length) throw invalid(`invalid --restart "${value}": expected no, on-failure[:max-retries], always or unless-stopped`);
  if (name === "on-failure") return { name, maximumRetryCount: count === undefined ? 0 : parseInteger("--restart", count, 0) };
  if (name === "no" || name === "always" || name === "unless-stopped") {
    if (count !== undefined) throw invalid(`invalid --restart "${value}": a maximum retry count is only valid with on-failure`);
    return { name, maximumRetryCount: 0 };
  }
  throw invalid(`invalid --restart "${value}": expected no, on-failure[:max-retries], always or unless-stopped`);
}

const ULIMITS = new Set(ULIMIT_NAMES);

/** name=soft[:hard]; hard defaults to soft. */
export function parseUlimit(value: string): UlimitOption {
  const eq = value.indexOf("=");
  const name = value.slice(0, eq);
  if (eq <= 0 || !ULIMITS.has(name)) throw invalid(`invalid --ulimit "${value}": expected name=soft[:hard] with a name such as nofile or nproc`);
  const parts = value.slice(eq + 1).split(":");
  if (parts.length > 2) throw invalid(`invalid --ulimit "${value}": expected name=soft[:hard]`);
  const soft = parseInteger("--ulimit", parts[0]!, 0);
  const hard = parts[1] === undefined ? soft : parseInteger("--ulimit", parts[1], 0);
  if (soft > hard) throw invalid(`invalid --ulimit "${value}": soft limit must be less than or equal to hard limit`);
  return { name, soft, hard };
}

function parseIdMap(flag: string, value: string): IdMap {
  const parts = value.split(":");
  if (parts.length !== 3) throw invalid(`invalid ${flag} "${value}": expected container:host:size`);
  return { containerID: parseInteger(flag, parts[0]!, 0), hostID: parseInteger(flag, parts[1]!, 0), size: parseInteger(flag, parts[2]!, 1) };
}

function parseKeyValue(flag: string, value: string, valueRequired: boolean): [string, string] {
  const eq = value.indexOf("=");
  if (eq === 0 || (valueRequired && eq < 0)) throw invalid(`invalid ${flag} "${value}": expected key=value`);
  return eq < 0 ? [value, ""] : [value.slice(0, eq), value.slice(eq + 1)];
}

/** Lines of KEY=VALUE (verbatim, no quoting) or bare KEY; `#` comments and blank lines skipped (Docker's env-file format). */
function keyValueLines(text: string, file: string, flag: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trimStart();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    const key = eq < 0 ? line.trimEnd() : line.slice(0, eq);
    if (key === "") throw invalid(`invalid ${flag} ${file}: no variable name on line ${i + 1}`);
    if (/\s/.test(key)) throw invalid(`invalid ${flag} ${file}: "${key}" on line ${i + 1} contains whitespace`);
    out.push([key, eq < 0 ? undefined : line.slice(eq + 1)]);
  });
  return out;
}

/** An env file's variables; a bare KEY takes its value from the host environment and is dropped when unset there. */
export function parseEnvFile(text: string, file: string, hostEnv: Record<string, string | undefined>): string[] {
  return keyValueLines(text, file, "--env-file").flatMap(([k, v]) => {
    const value = v ?? hostEnv[k];
    return value === undefined ? [] : [`${k}=${value}`];
  });
}

/** -e values: KEY=VALUE as given; a bare KEY is resolved now, in the caller's shell, as Docker's CLI does. */
export function resolveEnv(values: string[], hostEnv: Record<string, string | undefined>): string[] {
  return values.flatMap((v) => {
    if (v.startsWith("=") || v === "") throw invalid(`invalid --env "${v}": no variable name`);
    if (v.includes("=")) return [v];
    return hostEnv[v] === undefined ? [] : [`${v}=${hostEnv[v]}`];
  });
}

/** Env files first, then -e, so -e wins (Docker's order). */
export function collectEnv(o: { env?: string[]; envFile?: string[] }, env: FlagEnv): string[] {
  const fromFiles = (o.envFile ?? []).flatMap((f) => parseEnvFile(readFlagFile("--env-file", f, env), f, env.hostEnv));
  return [...fromFiles, ...resolveEnv(o.env ?? [], env.hostEnv)];
}

function readFlagFile(flag: string, file: string, env: FlagEnv): string {
  try {
    return env.readFile(file);
  } catch (e) {
    throw invalid(`invalid ${flag} ${file}: ${(e as Error).message}`);
  }
}

const PROPAGATION = new Set(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);

/**
 * `-v /host:/ctr[:opts]` (a bind mount; the host path must exist), `-v NAME:/ctr[:opts]` (a named volume,
 * created on first use) or `-v /ctr[:opts]` (an anonymous volume). opts: ro, rw, nocopy (volumes), a
 * propagation such as rshared (binds), z/Z (ignored: no SELinux labels).
 */
export function parseVolume(value: string): MountOption {
  const parts = value.split(":");
  const bad = (why: string) => invalid(`invalid --volume "${value}": ${why}`);
  if (parts.length > 3 || parts.some((p) => p === "")) throw bad("expected /host/path:/container/path[:opts], NAME:/container/path[:opts] or /container/path");
  let m: MountOption;
  let mode: string | undefined;
  const isModes = (v: string) => v.split(",").every((x) => ["ro", "rw", "nocopy", "z", "Z"].includes(x) || PROPAGATION.has(x));
  if (parts.length === 1 || (parts.length === 2 && parts[0]!.startsWith("/") && isModes(parts[1]!))) {
    // An anonymous volume: `/ctr` or `/ctr:ro`.
    checkDestination("--volume", value, parts[0]!);
    m = { type: "volume", destination: parts[0]! };
    mode = parts[1];
  } else {
    const [source, destination] = parts as [string, string];
    mode = parts[2];
    checkDestination("--volume", value, destination);
    if (source.startsWith("/")) m = { type: "bind", source, destination };
    else if (VOLUME_NAME_RE.test(source)) m = { type: "volume", source, destination };
    else throw bad(`"${source}" is neither an absolute host path nor a volume name (volume names are [a-zA-Z0-9][a-zA-Z0-9_.-], at least two characters)`);
  }
  for (const opt of mode ? mode.split(",") : []) {
    if (opt === "ro") m.readOnly = true;
    else if (opt === "rw") m.readOnly = false;
    else if (opt === "nocopy" && m.type === "volume") m.noCopy = true;
    else if (PROPAGATION.has(opt) && m.type === "bind") m.options = [...(m.options ?? []), opt];
    else if (opt === "z" || opt === "Z") continue; // SELinux relabelling: nothing to do without SELinux labels.
    else throw bad(`unknown option "${opt}" (expected ro, rw, ${m.type === "bind" ? "or a propagation such as rshared" : "or nocopy"})`);
  }
  if (m.readOnly === false) delete m.readOnly;
  return m;
}

function checkDestination(flag: string, value: string, destination: string): void {
  if (!destination.startsWith("/")) throw invalid(`invalid ${flag} "${value}": the container path "${destination}" must be absolute`);
  if (destination.replace(/\/+$/, "") === "") throw invalid(`invalid ${flag} "${value}": the container path cannot be "/"`);
}

/** `--mount type=bind,source=/h,target=/c[,readonly][,bind-propagation=P]` or `type=tmpfs,target=/c[,tmpfs-size=S][,tmpfs-mode=M]`. */
export function parseMount(value: string): MountOption {
  const kv = new Map<string, string | undefined>();
  for (const field of value.split(",")) {
    const eq = field.indexOf("=");
    kv.set((eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase(), eq < 0 ? undefined : field.slice(eq + 1));
  }
  /** The value of the first of `keys` present ("" for a bare flag such as `readonly`), consumed. */
  const take = (...keys: string[]): string | undefined => {
    const k = keys.find((key) => kv.has(key));
    if (k === undefined) return undefined;
    const v = kv.get(k) ?? "";
    kv.delete(k);
    return v;
  };
  const type = take("type") ?? "volume";
  if (type !== "bind" && type !== "tmpfs" && type !== "volume") throw invalid(`invalid --mount "${value}": type must be bind, volume or tmpfs`);
  const destination = take("target", "destination", "dst");
  if (!destination) throw invalid(`invalid --mount "${value}": target is required`);
  checkDestination("--mount", value, destination);
  const m: MountOption = { type, destination };
  const ro = take("readonly", "ro");
  if (ro !== undefined) {
    if (!["", "true", "1", "false", "0"].includes(ro)) throw invalid(`invalid --mount "${value}": readonly must be true or false`);
    if (ro === "" || ro === "true" || ro === "1") m.readOnly = true;
  }
  if (type === "volume") {
    const source = take("source", "src");
    if (source) {
      if (!VOLUME_NAME_RE.test(source)) throw invalid(`invalid --mount "${value}": "${source}" is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-], at least two characters)`);
      m.source = source;
    }
    const nocopy = take("volume-nocopy", "volume-no-copy");
    if (nocopy !== undefined) {
      if (!["", "true", "1", "false", "0"].includes(nocopy)) throw invalid(`invalid --mount "${value}": volume-nocopy must be true or false`);
      if (nocopy === "" || nocopy === "true" || nocopy === "1") m.noCopy = true;
    }
    const driver = take("volume-driver");
    if (driver !== undefined && driver !== "local") throw invalid(`invalid --mount "${value}": volume driver "${driver}" is not supported: only "local" is`);
    for (const k of ["volume-opt", "volume-label"]) if (kv.has(k)) throw invalid(`invalid --mount "${value}": ${k} is not supported (create the volume first with berth volume create)`);
  } else if (type === "bind") {
    const source = take("source", "src");
    if (!source) throw invalid(`invalid --mount "${value}": source is required for a bind mount`);
    if (!source.startsWith("/")) throw invalid(`invalid --mount "${value}": source "${source}" must be an absolute host path`);
    m.source = source;
    const prop = take("bind-propagation");
    if (prop !== undefined) {
      if (!PROPAGATION.has(prop)) throw invalid(`invalid --mount "${value}": bind-propagation must be one of ${[...PROPAGATION].join(", ")}`);
      m.options = [prop];
    }
  } else {
    const opts: string[] = [];
    const size = take("tmpfs-size");
    if (size !== undefined) opts.push(`size=${parseSize("--mount tmpfs-size", size)}`);
    const mode = take("tmpfs-mode");
    if (mode !== undefined) {
      if (!/^[0-7]{1,4}$/.test(mode)) throw invalid(`invalid --mount "${value}": tmpfs-mode must be octal such as 1777`);
      opts.push(`mode=${mode}`);
    }
    if (opts.length) m.options = opts;
  }
  const left = [...kv.keys()];
  if (left.length) throw invalid(`invalid --mount "${value}": unknown field "${left[0]}"`);
  return m;
}

function parseCaps(flag: string, values: string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  return values.flatMap((v) =>
    v.split(",").filter((c) => c.trim() !== "").map((c) => {
      const up = c.trim().toUpperCase();
      if (up === "ALL") return up;
      const cap = up.startsWith("CAP_") ? up : `CAP_${up}`;
      if (!/^CAP_[A-Z0-9_]+$/.test(cap)) throw invalid(`invalid ${flag} "${c}": expected a capability such as NET_ADMIN`);
      return cap;
    }),
  );
}

function parseSecurityOpt(value: string): string {
  if (/^no-new-privileges([:=](true|false))?$/.test(value)) return value;
  if (/^(seccomp|apparmor|label|systempaths|mask|unmask)[=:].+/.test(value)) return value;
  throw invalid(`invalid --security-opt "${value}": expected no-new-privileges, seccomp=..., apparmor=..., label=... or systempaths=unconfined`);
}

/** A signal name (TERM, SIGTERM, sigterm), SIGRTMIN+n, or a number -> its canonical name. */
export function parseSignal(flag: string, value: string): string {
  try {
    return signalName(signalNumber(value));
  } catch {
    throw invalid(`invalid ${flag} "${value}": expected a signal name such as SIGTERM or a number`);
  }
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw invalid(`invalid ${flag} "${value}": expected ${allowed.join(" or ")}`);
  return value as T;
}

/** Resource flags shared by create/run and update. `forUpdate` drops checks that depend on values set earlier. */
export function toResources(o: ContainerFlagValues, forUpdate = false): UpdateRequest {
  const r: UpdateRequest = {};
  if (o.memory !== undefined) {
    r.memory = parseSize("--memory", o.memory);
    if (r.memory > 0 && r.memory < MIN_MEMORY) throw invalid(`invalid --memory "${o.memory}": the minimum memory limit is 6MB`);
  }
  if (o.memoryReservation !== undefined) {
    r.memoryReservation = parseSize("--memory-reservation", o.memoryReservation);
    if (r.memoryReservation > 0 && r.memoryReservation < MIN_MEMORY) throw invalid(`invalid --memory-reservation "${o.memoryReservation}": the minimum memory reservation is 6MB`);
    if (r.memory && r.memoryReservation > r.memory) throw invalid(`invalid --memory-reservation "${o.memoryReservation}": must be at most --memory`);
  }
  if (o.memorySwap !== undefined) {
    r.memorySwap = o.memorySwap.trim() === "-1" ? -1 : parseSize("--memory-swap", o.memorySwap);
    if (r.memorySwap > 0) {
      if (!forUpdate && !r.memory) throw invalid(`invalid --memory-swap "${o.memorySwap}": set --memory too when limiting memory plus swap`);
      if (r.memory && r.memorySwap < r.memory) throw invalid(`invalid --memory-swap "${o.memorySwap}": must be at least --memory`);
    }
  }
  if (o.cpus !== undefined) {
    const n = /^(\d+(\.\d*)?|\.\d+)$/.test(o.cpus.trim()) ? Number(o.cpus) : NaN;
    if (!(n > 0)) throw invalid(`invalid --cpus "${o.cpus}": expected a positive number such as 1.5`);
    r.cpus = n;
  }
  if (o.cpuShares !== undefined) r.cpuShares = parseInteger("--cpu-shares", o.cpuShares, 0);
  const cpuset = (flag: string, v: string) => {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v)) throw invalid(`invalid ${flag} "${v}": expected a list such as 0-3 or 0,2`);
    return v;
  };
  if (o.cpusetCpus !== undefined) r.cpusetCpus = cpuset("--cpuset-cpus", o.cpusetCpus);
  if (o.cpusetMems !== undefined) r.cpusetMems = cpuset("--cpuset-mems", o.cpusetMems);
  if (o.pidsLimit !== undefined) r.pidsLimit = parseInteger("--pids-limit", o.pidsLimit, -1);
  if (o.blkioWeight !== undefined) {
    r.blkioWeight = parseInteger("--blkio-weight", o.blkioWeight, 0, 1000);
    if (r.blkioWeight > 0 && r.blkioWeight < 10) throw invalid(`invalid --blkio-weight "${o.blkioWeight}": expected 10 to 1000 (or 0)`);
  }
  if (o.restart !== undefined) r.restart = parseRestart(o.restart);
  return r;
}

/** Interpret `--entrypoint`: "" clears the image's; a JSON array is taken as argv; anything else is one program. */
function parseEntrypoint(v: string): string[] {
  if (v === "") return [];
  if (v.startsWith("[")) {
    try {
      const a: unknown = JSON.parse(v);
      if (Array.isArray(a) && a.every((x) => typeof x === "string")) return a as string[];
    } catch {
      /* not JSON: a program name that happens to start with "[" */
    }
  }
  return [v];
}

/** The pure translation of `run`/`create` flags plus the image and its arguments into ContainerOptions. */
export function toContainerOptions(image: string, args: string[], o: ContainerFlagValues, env: FlagEnv = processFlagEnv()): ContainerOptions {
  const c: ContainerOptions = { image };
  const set = <K extends keyof ContainerOptions>(k: K, v: ContainerOptions[K] | undefined) => {
    if (v !== undefined) c[k] = v;
  };
  set("name", o.name);
  if (o.entrypoint !== undefined) c.entrypoint = parseEntrypoint(o.entrypoint);
  if (args.length) c.cmd = [...args];
  const envs = collectEnv(o, env);
  if (envs.length) c.env = envs;
  set("workdir", o.workdir);
  set("user", o.user);
  set("groupAdd", o.groupAdd);
  set("hostname", o.hostname);
  if (o.tty) c.tty = true;
  if (o.interactive) c.interactive = true;
  set("pid", oneOf("--pid", o.pid, ["host", "private"] as const));
  set("ipc", oneOf("--ipc", o.ipc, ["host", "private", "shareable"] as const));
  set("uts", oneOf("--uts", o.uts, ["host", "private"] as const));
  set("userns", oneOf("--userns", o.userns, ["host", "keep-id"] as const));
  if (o.uidmap) c.uidMaps = o.uidmap.map((v) => parseIdMap("--uidmap", v));
  if (o.gidmap) c.gidMaps = o.gidmap.map((v) => parseIdMap("--gidmap", v));
  if (o.shmSize !== undefined) {
    c.shmSize = parseSize("--shm-size", o.shmSize);
    if (c.shmSize <= 0) throw invalid(`invalid --shm-size "${o.shmSize}": must be greater than 0`);
  }
  set("capAdd", parseCaps("--cap-add", o.capAdd));
  set("capDrop", parseCaps("--cap-drop", o.capDrop));
  if (o.privileged) c.privileged = true;
  if (o.securityOpt) c.securityOpt = o.securityOpt.map(parseSecurityOpt);
  const { restart, ...resources } = toResources(o);
  Object.assign(c, resources);
  if (o.ulimit) c.ulimits = o.ulimit.map(parseUlimit);
  if (o.readOnly) c.readOnly = true;
  if (o.tmpfs) {
    c.tmpfs = {};
    for (const t of o.tmpfs) {
      const i = t.indexOf(":");
      const path = i < 0 ? t : t.slice(0, i);
      checkDestination("--tmpfs", t, path);
      c.tmpfs[path] = i < 0 ? "" : t.slice(i + 1);
    }
  }
  if (o.sysctl) c.sysctls = Object.fromEntries(o.sysctl.map((s) => parseKeyValue("--sysctl", s, true)));
  if (o.init) c.init = true;
  if (o.stopSignal !== undefined) c.stopSignal = parseSignal("--stop-signal", o.stopSignal);
  if (o.stopTimeout !== undefined) c.stopTimeout = parseInteger("--stop-timeout", o.stopTimeout, -1);
  if (restart) {
    if (o.rm && restart.name !== "no") throw invalid(`conflicting options: --restart ${o.restart} and --rm`);
    c.restart = restart;
  }
  if (o.labelFile || o.label) {
    const fromFiles = (o.labelFile ?? []).flatMap((f) => keyValueLines(readFlagFile("--label-file", f, env), f, "--label-file").map(([k, v]) => [k, v ?? ""]));
    c.labels = Object.fromEntries([...fromFiles, ...(o.label ?? []).map((l) => parseKeyValue("--label", l, false))]);
  }
  if (o.rm) c.autoRemove = true;
  set("runtime", o.runtime);
  Object.assign(c, toNetworkOptions(o));
  const mounts = [...(o.volume ?? []).map(parseVolume), ...(o.mount ?? []).map(parseMount)];
  if (mounts.length) c.mounts = mounts;
  if (o.volumesFrom?.length) c.volumesFrom = o.volumesFrom.map((v) => (parseVolumesFrom(v), v));
  if (o.oomKillDisable) c.oomKillDisable = true;
  if (o.oomScoreAdj !== undefined) c.oomScoreAdj = parseInteger("--oom-score-adj", o.oomScoreAdj, -1000, 1000);
  return c;
}

/**
 * Run `fn` for each ref; print what it returns. Like Docker, a failure does not stop the others: errors are
 * printed as they come and the command fails at the end.
 */
export async function forEachRef(refs: string[], fn: (ref: string) => Promise<string | undefined>, concurrency = 4): Promise<void> {
  // Several containers are handled at once (each mostly waits on runc); results print in argument order.
  const results: Promise<{ out?: string; err?: unknown }>[] = [];
  let running = 0;
  const waiters: (() => void)[] = [];
  for (const ref of refs) {
    if (running >= concurrency) await new Promise<void>((r) => waiters.push(r));
    running++;
    results.push(
      fn(ref)
        .then((out) => (out === undefined ? {} : { out }), (err: unknown) => ({ err }))
        .finally(() => {
          running--;
          waiters.shift()?.();
        }),
    );
  }
  let firstError: unknown;
  for (const r of await Promise.all(results)) {
    if (r.out !== undefined) process.stdout.write(`${r.out}\n`);
    if (r.err !== undefined) {
      if (refs.length === 1) throw r.err;
      process.stderr.write(`Error: ${(r.err as Error).message}\n`);
      firstError ??= r.err;
    }
  }
  if (firstError) throw Object.assign(firstError as object, { reported: true });
}
