import type { Command } from "commander";
import { invalid, notFound } from "../../core/errors.js";
import { engineFor } from "../context.js";

/** Docker's `NetworkSettings.Ports`: "80/tcp" -> its host bindings (null: exposed, not published). */
export type PortBindings = Record<string, { HostIp?: string; HostPort?: string }[] | null | undefined>;

/** `80`, `80/tcp` or `53/udp` -> "80/tcp" (the key form of NetworkSettings.Ports). */
export function parsePrivatePort(value: string): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(value.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw invalid(`invalid port "${value}": expected PORT[/tcp|udp] such as 80/tcp`);
  return `${Number(m[1])}/${(m[2] ?? "tcp").toLowerCase()}`;
}

/** `0.0.0.0:8080`, `[::]:8080`; no host IP means every address. */
const hostAddress = (b: { HostIp?: string; HostPort?: string }) => {
  const ip = b.HostIp || "0.0.0.0";
  return `${ip.includes(":") ? `[${ip}]` : ip}:${b.HostPort ?? ""}`;
};

/** Keys in port order, tcp before udp. */
const byPort = (a: string, b: string) => {
  const [pa, qa] = a.split("/") as [string, string?];
  const [pb, qb] = b.split("/") as [string, string?];
  return Number(pa) - Number(pb) || (qa ?? "").localeCompare(qb ?? "");
};

/**
 * The lines `docker port` prints: every published binding as `80/tcp -> 0.0.0.0:8080`, or, for one private
 * port, just its host addresses. Undefined when that port is not published.
 */
export function portLines(ports: PortBindings | undefined, privatePort?: string): string[] | undefined {
  const all = ports ?? {};
  if (privatePort !== undefined) {
    const bindings = all[privatePort];
    return bindings?.length ? bindings.map(hostAddress) : undefined;
  }
  return Object.keys(all)
    .sort(byPort)
    .flatMap((k) => (all[k] ?? []).map((b) => `${k} -> ${hostAddress(b)}`));
}

export function register(parent: Command, name = "port"): void {
  parent
    .command(`${name} <container> [private-port]`)
    .description("List a container's published ports, or the host addresses of one (PORT[/PROTO])")
    .action(async (ref: string, privateArg: string | undefined, _o: unknown, cmd: Command) => {
      const privatePort = privateArg === undefined ? undefined : parsePrivatePort(privateArg);
      const doc = (await (await engineFor(cmd)).containers.inspect(ref)) as { NetworkSettings?: { Ports?: PortBindings } };
      const lines = portLines(doc.NetworkSettings?.Ports, privatePort);
      if (lines === undefined) throw notFound(`no public port '${privatePort}' published for ${ref}`);
      process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    });
}
