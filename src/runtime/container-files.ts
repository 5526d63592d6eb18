import { existsSync, promises as fsp } from "node:fs";
import { dirname, join } from "node:path";
import { precondition } from "../core/errors.js";
import type { ContainerOptions } from "../core/spec/types.js";
import type { ContainerPaths } from "./layout.js";

/** Files the engine prepares for a container before the runtime creates it. */

/** /etc/hostname, /etc/hosts and /etc/resolv.conf of the container (the network issue extends them). */
export async function writeEtcFiles(p: ContainerPaths, hostname: string): Promise<void> {
  await fsp.writeFile(p.hostname, `${hostname}\n`);
  await fsp.writeFile(p.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
  let resolv = "";
  try {
    resolv = await fsp.readFile("/etc/resolv.conf", "utf8");
  } catch {
    /* no resolver on the host */
  }
  // A loopback resolver on the host is unreachable from the container's own network namespace.
  const lines = resolv.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l));
  await fsp.writeFile(p.resolvConf, lines.join("\n").trim() + "\n");
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
