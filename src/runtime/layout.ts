import { join } from "node:path";

/**
 * Where one container's files live. Persistent parts (upper layer, logs) under the root; runtime parts
 * (bundle, conmon's sockets and pid files, exit files) under the runroot, which a reboot clears.
 */
export interface ContainerPaths {
  /** root/containers/<id> */
  dir: string;
  upper: string;
  work: string;
  /** The overlay mount point: the container's rootfs. */
  merged: string;
  log: string;
  /** Generated /etc/hostname, /etc/hosts, /etc/resolv.conf (bind-mounted). */
  hostname: string;
  hosts: string;
  resolvConf: string;
  /** runroot/containers/<id>: the OCI bundle (config.json) and conmon's attach socket, ctl and winsz fifos. */
  bundle: string;
  config: string;
  attach: string;
  ctl: string;
  winsz: string;
  pidFile: string;
  conmonPidFile: string;
  /** conmon's persist dir: "exit" and "oom" files. */
  persist: string;
  /** The exit file conmon writes (runroot/exits/<id>). */
  exitFile: string;
  /** A foreground attach holds this (its pid) so the exit command leaves --rm removal to it. */
  attachLock: string;
}

export function containerPaths(root: string, runroot: string, id: string): ContainerPaths {
  const dir = join(root, "containers", id);
  const bundle = join(runroot, "containers", id);
  return {
    dir,
    upper: join(dir, "upper"),
    work: join(dir, "work"),
    merged: join(dir, "merged"),
    log: join(dir, "ctr.log"),
    hostname: join(dir, "hostname"),
    hosts: join(dir, "hosts"),
    resolvConf: join(dir, "resolv.conf"),
    bundle,
    config: join(bundle, "config.json"),
    attach: join(bundle, "attach"),
    ctl: join(bundle, "ctl"),
    winsz: join(bundle, "winsz"),
    pidFile: join(bundle, "pidfile"),
    conmonPidFile: join(bundle, "conmon.pid"),
    persist: join(bundle, "persist"),
    exitFile: join(runroot, "exits", id),
    attachLock: join(bundle, "attached"),
  };
}

export function exitsDir(runroot: string): string {
  return join(runroot, "exits");
}

export function runtimeStateDir(runroot: string, runtime: string): string {
  return join(runroot, basenameOf(runtime));
}

function basenameOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i >= 0 ? p.slice(i + 1) : p;
}
