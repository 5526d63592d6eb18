import type { ContainerRecord } from "../container/store.js";
import type { ContainerOptions, ImageRuntimeConfig } from "../core/spec/types.js";
import { invalid } from "../core/errors.js";
import type { ContainerPaths } from "../runtime/layout.js";
import type { ContainerInspect } from "./container-types.js";
import type { Images } from "./images.js";

/** Docker-shaped views of a container row: `inspect`'s document and `ps --filter`. Pure. */

const iso = (ms: number) => (ms ? new Date(ms).toISOString() : "0001-01-01T00:00:00Z");

export function inspectDocument(r: ContainerRecord, p: ContainerPaths, img: ImageRuntimeConfig & { Labels?: Record<string, string> | null }, lower: string, pa: { path: string; args: string[] }): Omit<ContainerInspect, "NetworkSettings"> {
  const o = r.options;
  const env = [...(img.Env ?? []), ...(o.env ?? [])];
  return {
      Id: r.id,
      Created: new Date(r.created).toISOString(),
      Path: pa.path,
      Args: pa.args,
      State: {
        Status: r.state,
        Running: r.state === "running" || r.state === "paused",
        Paused: r.state === "paused",
        Restarting: r.state === "restarting",
        OOMKilled: r.oomKilled,
        Dead: false,
        Pid: r.state === "running" || r.state === "paused" ? r.pid : 0,
        ExitCode: r.exitCode,
        Error: r.error,
        StartedAt: iso(r.startedAt),
        FinishedAt: iso(r.finishedAt),
      },
      Image: r.imageId,
      ResolvConfPath: p.resolvConf,
      HostnamePath: p.hostname,
      HostsPath: p.hosts,
      LogPath: p.log,
      Name: `/${r.name}`,
      RestartCount: r.restartCount,
      Driver: "overlay",
      Platform: "linux",
      MountLabel: "",
      ProcessLabel: "",
      AppArmorProfile: "",
      ExecIDs: null,
      HostConfig: hostConfigOf(o),
      GraphDriver: { Name: "overlay", Data: { LowerDir: lower, UpperDir: p.upper, WorkDir: p.work, MergedDir: p.merged } },
      Mounts: (o.mounts ?? []).map((m) => ({ Type: m.type, Source: m.source ?? "", Destination: m.destination, Mode: m.readOnly ? "ro" : "", RW: !m.readOnly, Propagation: m.type === "bind" ? "rprivate" : "" })),
      Config: {
        Hostname: o.hostname ?? r.id.slice(0, 12),
        User: o.user ?? img.User ?? "",
        Tty: !!o.tty,
        OpenStdin: !!o.interactive,
        Env: env,
        Cmd: o.cmd?.length ? o.cmd : o.entrypoint !== undefined ? null : (img.Cmd ?? null),
        Entrypoint: o.entrypoint !== undefined ? (o.entrypoint.filter(Boolean).length ? o.entrypoint : null) : (img.Entrypoint ?? null),
        Image: r.imageName,
        WorkingDir: o.workdir ?? img.WorkingDir ?? "",
        Labels: { ...(img.Labels ?? {}), ...(o.labels ?? {}) },
        StopSignal: o.stopSignal ?? img.StopSignal ?? "SIGTERM",
        StopTimeout: o.stopTimeout ?? 10,
      },
      OCIRuntime: r.runtime,
      BundlePath: p.bundle,
    };
}

export function hostConfigOf(o: ContainerOptions): Record<string, unknown> {
  return {
    AutoRemove: !!o.autoRemove,
    RestartPolicy: { Name: o.restart?.name ?? "no", MaximumRetryCount: o.restart?.maximumRetryCount ?? 0 },
    NetworkMode: o.network ?? "none",
    Privileged: !!o.privileged,
    ReadonlyRootfs: !!o.readOnly,
    CapAdd: o.capAdd ?? null,
    CapDrop: o.capDrop ?? null,
    SecurityOpt: o.securityOpt ?? null,
    PidMode: o.pid === "host" ? "host" : "",
    IpcMode: o.ipc ?? "private",
    UTSMode: o.uts === "host" ? "host" : "",
    UsernsMode: o.userns ?? "",
    ShmSize: o.shmSize ?? 64 * 1024 * 1024,
    Memory: o.memory ?? 0,
    MemorySwap: o.memorySwap ?? 0,
    MemoryReservation: o.memoryReservation ?? 0,
    NanoCpus: o.cpus ? Math.round(o.cpus * 1e9) : 0,
    CpuShares: o.cpuShares ?? 0,
    CpusetCpus: o.cpusetCpus ?? "",
    CpusetMems: o.cpusetMems ?? "",
    PidsLimit: o.pidsLimit ?? null,
    BlkioWeight: o.blkioWeight ?? 0,
    Ulimits: (o.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
    Tmpfs: o.tmpfs ?? null,
    Sysctls: o.sysctls ?? null,
    Init: !!o.init,
    GroupAdd: o.groupAdd ?? null,
    OomKillDisable: !!o.oomKillDisable,
    OomScoreAdj: o.oomScoreAdj ?? 0,
    Runtime: o.runtime ?? "",
    Binds: (o.mounts ?? []).filter((m) => m.type === "bind").map((m) => `${m.source}:${m.destination}${m.readOnly ? ":ro" : ""}`),
  };
}

/** Docker's ps filters: the same key ORs, different keys AND. */
export function matchesFilters(r: ContainerRecord, filters: Record<string, string[]>, images: Images): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (!values.length) continue;
    const ok = values.some((v) => {
      switch (key) {
        case "id":
          return r.id.startsWith(v);
        case "name":
          return r.name.includes(v.replace(/^\//, ""));
        case "status":
          return r.state === v;
        case "exited":
          return r.state === "exited" && r.exitCode === Number(v);
        case "label": {
          const [k, val] = v.split("=", 2) as [string, string | undefined];
          const labels = r.options.labels ?? {};
          return val === undefined ? k in labels : labels[k] === val;
        }
        case "ancestor":
          try {
            return images.get(v).id === r.imageId || r.imageName === v;
          } catch {
            return r.imageName === v;
          }
        default:
          throw invalid(`invalid filter "${key}": use id, name, label, status, exited or ancestor`);
      }
    });
    if (!ok) return false;
  }
  return true;
}
