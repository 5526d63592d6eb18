import { Option, type Command } from "commander";
import { BerthError, invalid } from "../../core/errors.js";
import { contains, containsCidr, parseCidr, parseIp, type Cidr } from "../../core/net/cidr.js";
import type { NetworkCreateRequest, NetworkInspect } from "../../engine/network-types.js";
import { forEachRef } from "../container-flags.js";
import { engineFor } from "../context.js";
import { renderTemplate, shortId, table } from "../format.js";
import { parseAlias, parseIpFlag, parseMacFlag } from "../port-flags.js";
import { inspectEach } from "./image-inspect.js";
import { confirm } from "./system.js";

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function keyValues(flag: string, values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw invalid(`invalid ${flag} "${v}": expected key=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export interface NetworkCreateFlags {
  driver?: string;
  subnet?: string[];
  gateway?: string[];
  ipRange?: string[];
  ipv6?: boolean;
  opt?: string[];
  internal?: boolean;
  label?: string[];
}

/**
 * `network create` flags -> the engine's request. Each --gateway and --ip-range goes with the --subnet that
 * contains it (Docker's rule, so their order does not matter); one of each per subnet at most. An IPv6
 * subnet implies --ipv6 (as in Podman).
 */
export function toNetworkCreate(name: string, o: NetworkCreateFlags): NetworkCreateRequest {
  const driver = o.driver ?? "bridge";
  if (driver !== "bridge" && driver !== "macvlan") throw invalid(`invalid --driver "${driver}": expected bridge or macvlan`);
  const parsed: { text: string; cidr: Cidr; gateway?: string; ipRange?: string }[] = [];
  for (const s of o.subnet ?? []) {
    const cidr = parseCidr(s, "--subnet");
    const same = parsed.find((p) => p.cidr.family === cidr.family && (containsCidr(p.cidr, cidr) || containsCidr(cidr, p.cidr)));
    if (same) throw invalid(`invalid --subnet "${s}": it overlaps --subnet "${same.text}"`);
    parsed.push({ text: s.trim(), cidr });
  }
  const owner = (flag: string, value: string, family: 4 | 6, inside: (c: Cidr) => boolean) => {
    if (!parsed.length) throw invalid(`invalid ${flag} "${value}": give the --subnet it belongs to`);
    const p = parsed.find((x) => x.cidr.family === family && inside(x.cidr));
    if (!p) throw invalid(`invalid ${flag} "${value}": no --subnet contains it`);
    return p;
  };
  for (const g of o.gateway ?? []) {
    let addr;
    try {
      addr = parseIp(g);
    } catch {
      throw invalid(`invalid --gateway "${g}": not an IPv4 or IPv6 address`);
    }
    const p = owner("--gateway", g, addr.family, (c) => contains(c, addr));
    if (p.gateway !== undefined) throw invalid(`invalid --gateway "${g}": --subnet ${p.text} already has gateway ${p.gateway}`);
    p.gateway = g.trim();
  }
  for (const r of o.ipRange ?? []) {
    const range = parseCidr(r, "--ip-range");
    const p = owner("--ip-range", r, range.family, (c) => containsCidr(c, range));
    if (p.ipRange !== undefined) throw invalid(`invalid --ip-range "${r}": --subnet ${p.text} already has range ${p.ipRange}`);
    p.ipRange = r.trim();
  }
  const families = new Set(parsed.map((p) => p.cidr.family));
  const req: NetworkCreateRequest = { name, driver };
  if (parsed.length) req.subnets = parsed.map((p) => ({ subnet: p.text, ...(p.gateway ? { gateway: p.gateway } : {}), ...(p.ipRange ? { ipRange: p.ipRange } : {}) }));
  if (o.ipv6 || families.has(6)) req.ipv6 = true;
  if (o.internal) req.internal = true;
  if (o.opt?.length) req.options = keyValues("--opt", o.opt);
  if (o.label?.length) req.labels = keyValues("--label", o.label);
  return req;
}

/** A `network ls` row with Docker's template field names. */
export function networkRow(n: NetworkInspect, noTrunc = false) {
  return {
    ID: noTrunc ? n.Id : shortId(n.Id),
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv6: String(n.EnableIPv6),
    Internal: String(n.Internal),
    Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(","),
    CreatedAt: n.Created,
  };
}

/** Docker's `network ls --filter`: name (substring), id (prefix), driver, label (key or key=value), type. */
function matches(n: NetworkInspect, filters: string[]): boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw invalid(`invalid --filter "${f}": expected key=value`);
    const k = f.slice(0, eq);
    if (!["name", "id", "driver", "label", "type"].includes(k)) throw invalid(`invalid --filter "${f}": unknown filter "${k}" (name, id, driver, label, type)`);
    byKey.set(k, [...(byKey.get(k) ?? []), f.slice(eq + 1)]);
  }
  const any = (k: string, test: (v: string) => boolean) => !byKey.has(k) || byKey.get(k)!.some(test);
  const labels = n.Labels ?? {};
  return (
    any("name", (v) => n.Name.includes(v)) &&
    any("id", (v) => n.Id.startsWith(v)) &&
    any("driver", (v) => n.Driver === v) &&
    // Labels: every label filter must hold (Docker ANDs them).
    (byKey.get("label") ?? []).every((v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
    }) &&
    any("type", (v) => (v === "custom" ? n.Name !== "berth" : v === "builtin" ? n.Name === "berth" : false))
  );
}

const isNotFound = (e: unknown) => e instanceof BerthError && e.code === "NOT_FOUND";

/** `berth network create|ls|inspect|rm|prune|connect|disconnect`; `want` says which subcommands to build. */
export function register(group: Command, want: (name: string) => boolean = () => true): void {
  if (want("create")) {
    group
      .command("create <name>")
      .description("Create a network")
      .addOption(new Option("-d, --driver <driver>", "network driver").choices(["bridge", "macvlan"]).default("bridge"))
      .option("--subnet <cidr>", "subnet in CIDR form (e.g. 172.30.0.0/24 or fd00:30::/64)", collect)
      .option("--gateway <ip>", "gateway of the --subnet that contains it", collect)
      .option("--ip-range <cidr>", "allocate container addresses from this part of the --subnet that contains it", collect)
      .option("--ipv6", "enable IPv6 (implied by an IPv6 --subnet)")
      .option("-o, --opt <key=value>", "driver option: parent=IF, mode=bridge|private|vepa|passthru (macvlan); mtu=N; promisc=true|false; bridge=NAME", collect)
      .option("--internal", "no outside access (no NAT, no forwarding)")
      .option("--label <key=value>", "set a label", collect)
      .action(async (name: string, o: NetworkCreateFlags, cmd: Command) => {
        const req = toNetworkCreate(name, o);
        const n = await (await engineFor(cmd)).networks.create(req);
        process.stdout.write(`${n.Id}\n`);
      });
  }
  if (want("ls")) {
    group
      .command("ls")
      .alias("list")
      .description("List networks")
      .option("-q, --quiet", "only show network IDs")
      .option("--no-trunc", "do not truncate IDs")
      .option("-f, --filter <key=value>", "filter: name, id, driver, label, type=custom|builtin", collect)
      .option("--format <format>", "json, table, or a Go-style template such as '{{.Name}}'")
      .action(async (o: { quiet?: boolean; trunc?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
        const nets = (await (await engineFor(cmd)).networks.list()).filter((n) => matches(n, o.filter ?? [])).sort((a, b) => a.Name.localeCompare(b.Name));
        const noTrunc = o.trunc === false;
        if (o.quiet) return void process.stdout.write(nets.map((n) => `${noTrunc ? n.Id : shortId(n.Id)}\n`).join(""));
        if (o.format === "json") return void process.stdout.write(JSON.stringify(nets, null, 2) + "\n");
        const rows = nets.map((n) => networkRow(n, noTrunc));
        if (o.format && o.format !== "table") return void process.stdout.write(rows.map((r) => renderTemplate(o.format!, r) + "\n").join(""));
        process.stdout.write(table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])));
      });
  }
  if (want("inspect")) {
    group
      .command("inspect <name...>")
      .description("Show details of networks as JSON")
      .option("-f, --format <template>", "Go-style template, e.g. '{{json .IPAM.Config}}'")
      .action(async (names: string[], o: { format?: string }, cmd: Command) => {
        const { networks } = await engineFor(cmd);
        await inspectEach(names, (n) => networks.inspect(n), o.format);
      });
  }
  if (want("rm") || want("remove")) {
    group
      .command("rm <name...>")
      .alias("remove")
      .description("Remove networks (not while containers are attached, unless forced)")
      .option("-f, --force", "disconnect attached containers first; a missing network is not an error")
      .action(async (names: string[], o: { force?: boolean }, cmd: Command) => {
        const { networks } = await engineFor(cmd);
        await forEachRef(
          names,
          async (n) => {
            try {
              await networks.remove(n, { force: !!o.force });
            } catch (e) {
              if (o.force && isNotFound(e)) return undefined;
              throw e;
            }
            return n;
          },
          1,
        );
      });
  }
  if (want("prune")) {
    group
      .command("prune")
      .description("Remove every network no container uses")
      .option("-f, --force", "do not prompt for confirmation")
      .action(async (o: { force?: boolean }, cmd: Command) => {
        if (!o.force && process.stdin.isTTY && !(await confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "))) return;
        const removed = await (await engineFor(cmd)).networks.prune();
        if (removed.length) process.stdout.write(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join("")}`);
      });
  }
  if (want("connect")) {
    group
      .command("connect <network> <container>")
      .description("Connect a container to a network (a running one gets its interface at once)")
      .option("--ip <address>", "IPv4 address on the network")
      .option("--ip6 <address>", "IPv6 address on the network")
      .option("--alias <name>", "extra name of the container on the network", collect)
      .option("--mac-address <mac>", "MAC address on the network")
      .action(async (network: string, container: string, o: { ip?: string; ip6?: string; alias?: string[]; macAddress?: string }, cmd: Command) => {
        const req = {
          ...(o.ip !== undefined ? { ip: parseIpFlag("--ip", o.ip, 4) } : {}),
          ...(o.ip6 !== undefined ? { ip6: parseIpFlag("--ip6", o.ip6, 6) } : {}),
          ...(o.alias?.length ? { aliases: o.alias.map((a) => parseAlias("--alias", a)) } : {}),
          ...(o.macAddress !== undefined ? { mac: parseMacFlag("--mac-address", o.macAddress) } : {}),
        };
        await (await engineFor(cmd)).networks.connect(network, container, req);
      });
  }
  if (want("disconnect")) {
    group
      .command("disconnect <network> <container>")
      .description("Disconnect a container from a network")
      .option("-f, --force", "force the container to disconnect")
      .action(async (network: string, container: string, o: { force?: boolean }, cmd: Command) => {
        await (await engineFor(cmd)).networks.disconnect(network, container, { force: !!o.force });
      });
  }
}
