import { existsSync, promises as fsp } from "node:fs";
import { dirname, join } from "node:path";
import { precondition } from "../core/errors.js";
import type { ContainerOptions } from "../core/spec/types.js";
import type { ContainerPaths } from "./layout.js";

/** Files the engine prepares for a container before the runtime creates it. */

export interface EtcExtras {
  /** Lines for /etc/hosts after the standard ones: peers on the container's networks, --add-host. */
  hosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

function hostsText(hostname: string, extra: string[]): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n${extra.map((l) => `${l}\n`).join("")}`;
}

/** --add-host NAME:IP entries as hosts lines. */
export function addHostLines(addHosts: string[] | undefined): string[] {
  return (addHosts ?? []).map((h) => {
    const i = h.search(/[:=]/);
    return `${h.slice(i + 1)}\t${h.slice(0, i)}`;
  });
}

/** /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, bind-mounted into it. */
export async function writeEtcFiles(p: ContainerPaths, hostname: string, extra: EtcExtras = {}): Promise<void> {
  await fsp.writeFile(p.hostname, `${hostname}\n`);
  await fsp.writeFile(p.hosts, hostsText(hostname, extra.hosts ?? []));
  let resolv = "";
  try {
    resolv = await fsp.readFile("/etc/resolv.conf", "utf8");
  } catch {
    /* no resolver on the host */
  }
  // A loopback resolver on the host is unreachable from the container's own network namespace.
  let lines = resolv.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l));
  if (extra.dns) lines = [...lines.filter((l) => !/^\s*nameserver\s/.test(l)), ...extra.dns.map((d) => `nameserver ${d}`)];
  if (extra.dnsSearch) lines = [...lines.filter((l) => !/^\s*(search|domain)\s/.test(l)), `search ${extra.dnsSearch.join(" ")}`];
  if (extra.dnsOptions) lines = [...lines.filter((l) => !/^\s*options\s/.test(l)), `options ${extra.dnsOptions.join(" ")}`];
  await fsp.writeFile(p.resolvConf, lines.join("\n").trim() + "\n");
}

/** Rewrite a running container's /etc/hosts in place (same inode: the bind mount keeps showing it). */
export async function rewriteHosts(p: ContainerPaths, hostname: string, extra: string[]): Promise<void> {
  const fh = await fsp.open(p.hosts, "r+");
  try {
    const text = Buffer.from(hostsText(hostname, extra));
    // Most refreshes change nothing (a peer that started was already listed): no write at all then.
    const now = await fh.readFile();
    if (now.equals(text)) return;
    // In place (the file is bind-mounted, a rename would not be seen); written before the truncate, so a
    // reader never finds the file empty.
    await fh.write(text, 0, text.length, 0);
    await fh.truncate(text.length);
  } finally {
    await fh.close();
  }
}

/**
 * A container with uid/gid maps: its root (a host uid) must traverse to the bind-mounted files and the
 * rootfs (0711 on the way: no listing), and own the top of its upper dir so that it can write there.
 * Image files keep their host owners and show as the overflow id inside unless the maps cover them.
 */
export async function prepareForUserns(root: string, options: ContainerOptions, p: ContainerPaths): Promise<void> {
  const hostOf = (maps: { containerID: number; hostID: number; size: number }[] | undefined, id: number) => {
    const m = maps?.find((x) => x.containerID <= id && id < x.containerID + x.size);
    return m ? m.hostID + (id - m.containerID) : undefined;
  };
  const uids = options.uidMaps?.length ? options.uidMaps : options.gidMaps;
  const gids = options.gidMaps?.length ? options.gidMaps : options.uidMaps;
  for (const d of [root, join(root, "containers"), p.dir]) await fsp.chmod(d, 0o711);
  for (let d = dirname(root); d !== "/"; d = dirname(d)) {
    const st = await fsp.stat(d);
    if (!(st.mode & 0o001)) throw precondition(`--uidmap: the container's root filesystem under ${root} is out of reach of its mapped root user: ${d} is not searchable by others (chmod o+x ${d})`);
  }
  const uid = hostOf(uids, 0);
  const gid = hostOf(gids, 0);
  if (uid === undefined || gid === undefined) return;
  await fsp.chown(p.upper, uid, gid);
  // The runtime creates the mount points of /etc/hostname, hosts and resolv.conf as the container's
  // root: give it an /etc of its own in the upper layer (merged with the image's) with those files.
  const etc = join(p.upper, "etc");
  if (!existsSync(etc)) {
    await fsp.mkdir(etc, { mode: 0o755 });
    await fsp.chown(etc, uid, gid);
  }
  for (const f of ["hostname", "hosts", "resolv.conf"]) {
    const t = join(etc, f);
    if (!existsSync(t)) {
      await fsp.writeFile(t, "", { mode: 0o644 });
      await fsp.chown(t, uid, gid);
    }
  }
}
