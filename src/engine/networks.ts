import { createServer } from "node:net";
import { BerthError, conflict, invalid, notFound } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { addressesFromJson, routesFromJson, type TakenRange } from "../core/net/index.js";
import type { PortMapping } from "../core/spec/types.js";
import type { ContainerRecord, ContainerStore } from "../container/store.js";
import { applySysctls, attach, detach, ensureBridge, linkKind, removeBridge, requireKernel } from "../network/apply.js";
import { planAttach, type AttachSpec, type InterfaceSpec, type MacvlanInterface, type MacvlanMode } from "../network/link-plan.js";
import { createNetns, createNetnsMany, deleteNetns, netnsExists, netnsPath } from "../network/netns.js";
import { applyNft, deleteNftTable, localnetSysctls, renderNftScript, type NftNetwork, type PortMapping as NftPort } from "../network/nft.js";
import { NetworkStore, type AttachmentRecord, type NetworkRecord } from "../network/store.js";
import { run } from "../runtime/exec-file.js";
import type { BerthConfig } from "./config.js";
import type { ConnectRequest, NetworkCreateRequest, NetworkInspect, NetworksApi } from "./network-types.js";

export interface NetworksContext {
  runroot: string;
  config: BerthConfig;
  log: Logger;
  containers: ContainerStore;
  /** Is this container running right now (with its pid)? */
  running: (id: string) => Promise<ContainerRecord | undefined>;
}

export const DEFAULT_NETWORK = "berth";
const SPECIAL_MODES = /^(none|host|container:.+|ns:.+)$/;

const NETWORK_OPTIONS = ["parent", "mode", "mtu", "promisc", "bridge", "com.docker.network.bridge.name"];
const BOOLEANS: Record<string, boolean> = { true: true, on: true, "1": true, false: false, off: false, "0": false };

/**
 * The `-o key=value` driver options that carry values for every interface on the network (mtu, promisc),
 * checked before anything is created; parent/mode/bridge are the drivers' to check.
 */
export function parseNetworkOptions(o: Record<string, string>): { mtu?: number; promisc?: boolean } {
  for (const k of Object.keys(o)) if (!NETWORK_OPTIONS.includes(k)) throw invalid(`invalid network option "${k}": use parent, mode, mtu, promisc or bridge`);
  const mtu = o.mtu !== undefined ? Number(o.mtu) : undefined;
  if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) throw invalid(`invalid network option mtu=${o.mtu}: expected 68..65535`);
  const promisc = o.promisc !== undefined ? BOOLEANS[o.promisc.toLowerCase()] : undefined;
  if (o.promisc !== undefined && promisc === undefined) throw invalid(`invalid network option promisc=${o.promisc}: expected true, false, on, off, 1 or 0`);
  return { ...(mtu !== undefined ? { mtu } : {}), ...(promisc !== undefined ? { promisc } : {}) };
}

/** A published port as stored: the chosen host port of a running container. */
export interface BoundPort extends PortMapping {
  containerId: string;
}

/**
 * Networks: bridge and macvlan networks in SQLite (addresses allocated there, in transactions), their host
 * side (bridges, berth's nftables table) and each container's named netns with its interfaces.
 */
export class Networks implements NetworksApi {
  readonly store: NetworkStore;
  private ranges?: Promise<TakenRange[]>;

  constructor(
    db: ConstructorParameters<typeof NetworkStore>[0],
    private readonly ctx: NetworksContext,
  ) {
    this.store = new NetworkStore(db);
  }

  get defaultName(): string {
    return this.ctx.config.network?.default ?? DEFAULT_NETWORK;
  }

  private get table(): string {
    return this.ctx.config.network?.nftTable ?? "berth";
  }

  /** Routes and addresses on the host: new subnets must not overlap them. */
  private hostRanges(): Promise<TakenRange[]> {
    this.ranges ??= (async () => {
      const [r4, r6, a] = await Promise.all([run("ip", ["-j", "route", "show"]), run("ip", ["-j", "-6", "route", "show"]), run("ip", ["-j", "addr", "show"])]);
      // Berth's own bridges carry routes for berth's networks; those overlaps are the store's to judge.
      const own = new Set(this.store.list().map((n) => n.interface));
      const notOwn = (json: string) => JSON.stringify((JSON.parse(json || "[]") as { dev?: string; ifname?: string }[]).filter((x) => !own.has(x.dev ?? x.ifname ?? "")));
      return [...routesFromJson(notOwn(r4.stdout)), ...routesFromJson(notOwn(r6.stdout)), ...addressesFromJson(notOwn(a.stdout))];
    })();
    return this.ranges;
  }

  /** The network a container joins without --network; the default one is created on first use. */
  async forContainer(mode: string | undefined): Promise<NetworkRecord | undefined> {
    const m = mode ?? this.defaultName;
    if (SPECIAL_MODES.test(m)) return undefined;
    try {
      return this.store.resolve(m);
    } catch (e) {
      if (!(e instanceof BerthError) || e.code !== "NOT_FOUND" || m !== DEFAULT_NETWORK) throw e;
    }
    try {
      return await this.createRecord({ name: DEFAULT_NETWORK, ipv6: true, options: { bridge: this.ctx.config.network?.defaultBridge ?? "berth0" } });
    } catch (e) {
      // Another process created it meanwhile.
      if (e instanceof BerthError && e.code === "CONFLICT") return this.store.resolve(DEFAULT_NETWORK);
      throw e;
    }
  }

  async create(req: NetworkCreateRequest): Promise<NetworkInspect> {
    return this.toInspect(await this.createRecord(req));
  }

  private async createRecord(req: NetworkCreateRequest): Promise<NetworkRecord> {
    const driver = req.driver ?? "bridge";
    const o = req.options ?? {};
    const { mtu, promisc } = parseNetworkOptions(o);
    let iface: string | undefined;
    if (driver === "macvlan") {
      if (!o.parent) throw invalid(`macvlan network "${req.name}" needs a parent interface: -o parent=IF`);
      const mode = o.mode ?? "bridge";
      if (!["bridge", "passthru", "private", "vepa"].includes(mode)) throw invalid(`invalid macvlan mode "${mode}": use bridge, passthru, private or vepa`);
      await requireKernel("macvlan");
      if (!(await linkKind(o.parent)).exists) throw notFound(`macvlan parent interface "${o.parent}" does not exist`);
      iface = o.parent;
    } else {
      iface = o.bridge ?? o["com.docker.network.bridge.name"];
      if (iface && (await linkKind(iface)).exists) throw conflict(`network interface "${iface}" already exists on the host`);
    }
    const rec = this.store.create({
      name: req.name,
      driver,
      ...(iface ? { interface: iface } : {}),
      options: { ...(req.internal ? { internal: true } : {}), ...(o.mode ? { mode: o.mode } : driver === "macvlan" ? { mode: "bridge" } : {}), ...(mtu ? { mtu } : {}), ...(promisc ? { promisc } : {}), ...(req.labels ? { labels: req.labels } : {}) },
      ...(req.subnets?.length ? { subnets: req.subnets } : {}),
      ...(req.ipv6 ? { ipv6: true } : {}),
      ...(req.pools ? { pools: req.pools } : {}),
      hostRanges: driver === "bridge" ? await this.hostRanges() : [],
    });
    if (rec.driver === "bridge") {
      try {
        await ensureBridge({ name: rec.interface, ...(mtu ? { mtu } : {}), addresses: rec.subnets.map((s) => `${s.gateway}/${s.subnet.split("/")[1]}`) });
        await this.syncFirewall();
      } catch (e) {
        this.store.remove(rec.id, { force: true });
        await removeBridge(rec.interface).catch(() => undefined);
        await this.syncFirewall().catch(() => undefined);
        throw e;
      }
    }
    return rec;
  }

  async list(): Promise<NetworkInspect[]> {
    return this.store.list().map((n) => this.toInspect(n));
  }

  async inspect(ref: string): Promise<NetworkInspect> {
    return this.toInspect(this.store.resolve(ref));
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<string> {
    const rec = this.store.resolve(ref);
    if (opts.force) for (const a of this.store.members(rec.id)) await this.disconnect(rec.id, a.containerId, { force: true });
    this.store.remove(rec.id, opts);
    if (rec.driver === "bridge") await removeBridge(rec.interface);
    await this.syncFirewall();
    return rec.name;
  }

  async prune(): Promise<string[]> {
    const out: string[] = [];
    for (const n of this.store.list()) {
      if (n.name === DEFAULT_NETWORK || this.store.attachedCount(n.id) > 0) continue;
      out.push(await this.remove(n.id));
    }
    return out;
  }

  /** Remove every network and berth's firewall table (system reset). */
  async removeAll(): Promise<void> {
    for (const n of this.store.list()) await this.remove(n.id, { force: true }).catch((e) => this.ctx.log.warn(`network ${n.name}: ${(e as Error).message}`));
    await deleteNftTable(this.table).catch(() => undefined);
  }

  async connect(network: string, container: string, req: ConnectRequest = {}): Promise<void> {
    const net = this.store.resolve(network);
    const ctr = this.ctx.containers.resolve(container);
    const mode = ctr.options.network;
    if (mode && SPECIAL_MODES.test(mode)) throw conflict(`container ${ctr.name} uses --network ${mode}: it cannot join networks`);
    if (this.store.attachment(ctr.id, net.id)) throw conflict(`container ${ctr.name} is already connected to network ${net.name}`);
    const a = this.store.connect(ctr.id, net.id, { ...(req.aliases ? { aliases: req.aliases } : {}), ...(req.mac ? { mac: req.mac } : {}), ...(req.ip ? { ipv4: req.ip } : {}), ...(req.ip6 ? { ipv6: req.ip6 } : {}) });
    const live = await this.ctx.running(ctr.id);
    if (!live) return;
    try {
      await this.attachChecked({ netnsPath: netnsPath(this.ctx.runroot, ctr.id), key: ctr.id, interfaces: [this.interfaceOf(a, net, false)], loopback: false });
    } catch (e) {
      this.store.disconnect(ctr.id, net.id);
      throw e;
    }
  }

  async disconnect(network: string, container: string, opts: { force?: boolean } = {}): Promise<void> {
    const net = this.store.resolve(network);
    const ctr = this.ctx.containers.resolve(container);
    const a = this.store.attachment(ctr.id, net.id);
    if (!a) {
      if (opts.force) return;
      throw notFound(`container ${ctr.name} is not connected to network ${net.name}`);
    }
    if (await this.ctx.running(ctr.id)) await detach({ netnsPath: netnsPath(this.ctx.runroot, ctr.id), key: ctr.id, interfaces: [this.interfaceOf(a, net, false)] });
    this.store.disconnect(ctr.id, net.id);
  }

  // ---------------------------------------------------------------- container side

  /** At create: join the container's first network, allocating its addresses. */
  async join(rec: ContainerRecord): Promise<void> {
    const net = await this.forContainer(rec.options.network);
    if (!net) return;
    const o = rec.options;
    this.store.connect(rec.id, net.id, {
      ...(o.networkAliases?.length ? { aliases: o.networkAliases } : {}),
      ...(o.macAddress ? { mac: o.macAddress } : {}),
      ...(o.ip ? { ipv4: o.ip } : {}),
      ...(o.ip6 ? { ipv6: o.ip6 } : {}),
    });
  }

  /**
   * Before the runtime starts: the container's named netns with an interface per attached network (eth0,
   * eth1, ... in connect order), all in two `ip -batch` processes. Returns the netns path, or undefined
   * when the container has no networks (mode none/host/...: the spec decides).
   */
  async setUp(rec: ContainerRecord): Promise<string | undefined> {
    const attachments = this.store.attachments(rec.id);
    if (!attachments.length) return undefined;
    if (rec.options.keepNetns && (await netnsExists(this.ctx.runroot, rec.id))) return netnsPath(this.ctx.runroot, rec.id);
    await deleteNetns(this.ctx.runroot, rec.id).catch(() => undefined);
    const path = await createNetns(this.ctx.runroot, rec.id);
    const interfaces = this.interfacesOf(attachments);
    try {
      await this.attachChecked({ netnsPath: path, key: rec.id, interfaces });
    } catch (e) {
      await deleteNetns(this.ctx.runroot, rec.id).catch(() => undefined);
      throw e;
    }
    return path;
  }

  /**
   * setUp for many containers at once (a lab deploy), as data to apply with the caller's own lines: their
   * netns are made by one helper, and what is left comes back as ip-batch lines, every container's host
   * side in one list and the inside lines per container ID. Containers with no network, or whose kept
   * netns exists, are skipped. Nothing is rolled back here: removing the containers removes their netns.
   */
  async planSetUpMany(recs: readonly ContainerRecord[]): Promise<{ host: string[]; inside: Map<string, string[]> }> {
    const todo: { rec: ContainerRecord; interfaces: InterfaceSpec[] }[] = [];
    for (const rec of recs) {
      const attachments = this.store.attachments(rec.id);
      if (!attachments.length || (rec.options.keepNetns && (await netnsExists(this.ctx.runroot, rec.id)))) continue;
      const interfaces = this.interfacesOf(attachments);
      // A macvlan parent must be checked against its other users first (attachChecked), one at a time.
      if (interfaces.some((x) => x.kind !== "veth")) throw invalid(`container ${rec.name}: only bridge networks can be prepared in bulk`);
      todo.push({ rec, interfaces });
    }
    for (const { rec } of todo) await deleteNetns(this.ctx.runroot, rec.id).catch(() => undefined);
    const paths = await createNetnsMany(this.ctx.runroot, todo.map((t) => t.rec.id));
    const host: string[] = [];
    const inside = new Map<string, string[]>();
    todo.forEach(({ rec, interfaces }, i) => {
      const plan = planAttach({ netnsPath: paths[i]!, key: rec.id, interfaces });
      host.push(...plan.host);
      inside.set(rec.id, plan.netns);
    });
    return { host, inside };
  }

  /** After the container stopped: its host-side links and its netns. Idempotent. */
  async tearDown(rec: ContainerRecord): Promise<void> {
    const attachments = this.store.attachments(rec.id);
    const path = netnsPath(this.ctx.runroot, rec.id);
    // Without its netns there is nothing to detach (veth pairs and macvlans died with it), and an nsenter
    // into a missing netns exits before reading its batch (EPIPE): every start runs this first.
    if (attachments.length && (await netnsExists(this.ctx.runroot, rec.id))) {
      await detach({ netnsPath: path, key: rec.id, interfaces: this.interfacesOf(attachments, false) }).catch((e) =>
        this.ctx.log.debug(`detach ${rec.id}: ${(e as Error).message}`),
      );
    }
    await deleteNetns(this.ctx.runroot, rec.id);
  }

  /** A container's interfaces in connect order; the first carries the default route unless `defaultRoute` is false. */
  private interfacesOf(attachments: readonly AttachmentRecord[], defaultRoute = true): InterfaceSpec[] {
    return attachments.map((a, i) => this.interfaceOf(a, this.store.get(a.networkId)!, defaultRoute && i === 0));
  }

  private interfaceOf(a: AttachmentRecord, net: NetworkRecord, defaultRoute: boolean): InterfaceSpec {
    const common = {
      ifname: a.interface,
      mac: a.mac,
      ...(net.options.mtu ? { mtu: net.options.mtu } : {}),
      // The flag lives on the interface, which every start and connect creates anew: set it each time.
      ...(net.options.promisc ? { promisc: true } : {}),
      addresses: a.addresses.map((x) => `${x.address}/${x.prefix}`),
      ...(defaultRoute && !net.options.internal ? { gateways: a.addresses.map((x) => x.gateway).filter(Boolean) } : {}),
    };
    return net.driver === "macvlan" ? { kind: "macvlan", parent: net.interface, mode: (net.options.mode ?? "bridge") as MacvlanMode, ...common } : { kind: "veth", bridge: net.interface, ...common };
  }

  /**
   * attach(), with macvlan parents checked first: the kernel allows a passthru macvlan only as its parent's
   * single macvlan and refuses the rest with a bare "Invalid argument". Running containers of berth's macvlan
   * networks on the same parent are named; for a parent taken outside berth (or by a racing start) the
   * kernel's refusal is restated.
   */
  private async attachChecked(spec: AttachSpec): Promise<void> {
    const macvlans = spec.interfaces.filter((i): i is MacvlanInterface => i.kind === "macvlan");
    for (const i of macvlans) {
      for (const n of this.store.list().filter((x) => x.driver === "macvlan" && x.interface === i.parent)) {
        const passthru = n.options.mode === "passthru";
        if (i.mode !== "passthru" && !passthru) continue;
        for (const m of this.store.members(n.id)) {
          if (m.containerId === spec.key || !(await this.ctx.running(m.containerId))) continue;
          throw conflict(
            passthru
              ? `macvlan parent ${i.parent} is held in passthru mode by container ${m.containerName} (network ${n.name}): the kernel allows one passthru macvlan per parent`
              : `macvlan parent ${i.parent} is in use by container ${m.containerName} (network ${n.name}): a passthru macvlan needs its parent to itself`,
          );
        }
      }
    }
    try {
      await attach(spec);
    } catch (e) {
      const i = macvlans.find((x) => x.mode === "passthru" && e instanceof BerthError && e.message.includes(`link add link ${x.parent} `) && /Invalid argument/.test(e.message));
      if (!i) throw e;
      const mtu = i.mtu ? ` or mtu ${i.mtu} exceeds the parent's` : "";
      throw conflict(`cannot add a passthru macvlan on ${i.parent}: the kernel refused it (Invalid argument): the parent already has a macvlan${mtu}; a passthru macvlan must be its parent's only one`, e);
    }
  }

  /** /etc/hosts lines: every container on the container's networks, by name and alias. */
  hostsEntries(rec: ContainerRecord): string[] {
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const mine of this.store.attachments(rec.id)) {
      for (const m of this.store.members(mine.networkId)) {
        for (const addr of m.addresses) {
          const names = [m.containerName, m.containerId.slice(0, 12), ...m.aliases].filter((n) => !seen.has(`${addr.address} ${n}`));
          names.forEach((n) => seen.add(`${addr.address} ${n}`));
          if (names.length) lines.push(`${addr.address}\t${names.join(" ")}`);
        }
      }
    }
    return lines;
  }

  /** The addresses of a container on its first network (for port publishing and inspect). */
  firstAddresses(id: string): { v4?: string; v6?: string } {
    const a = this.store.attachments(id)[0];
    return { v4: a?.addresses.find((x) => x.family === 4)?.address, v6: a?.addresses.find((x) => x.family === 6)?.address } as { v4?: string; v6?: string };
  }

  // ---------------------------------------------------------------- published ports

  /**
   * Give a starting container its host ports: fixed ones must be free (no other container holds them and
   * nothing on the host listens there), 0 picks a free one. Recorded until the container stops.
   */
  async bindPorts(rec: ContainerRecord, wanted: PortMapping[]): Promise<BoundPort[]> {
    const db = this.store.db;
    db.prepare("DELETE FROM container_ports WHERE container_id = ?").run(rec.id);
    const out: BoundPort[] = [];
    try {
      for (const w of wanted) {
        let port = w.hostPort;
        if (port === 0) port = await freePort(w.protocol, w.hostIp);
        else if (!(await portFree(port, w.protocol, w.hostIp))) throw conflict(`host port ${w.hostIp ? `${w.hostIp}:` : ""}${port}/${w.protocol} is already in use on the host`);
        try {
          db.prepare("INSERT INTO container_ports (container_id, host_ip, host_port, container_port, protocol) VALUES (?, ?, ?, ?, ?)").run(rec.id, w.hostIp ?? "", port, w.containerPort, w.protocol);
        } catch (e) {
          if ((e as { code?: string }).code?.startsWith("SQLITE_CONSTRAINT")) {
            const holder = db.prepare("SELECT c.name FROM container_ports p JOIN containers c ON c.id = p.container_id WHERE p.host_port = ? AND p.protocol = ?").get(port, w.protocol) as { name: string } | undefined;
            throw conflict(`host port ${port}/${w.protocol} is already published by container ${holder?.name ?? "another container"}`);
          }
          throw e;
        }
        out.push({ ...w, hostPort: port, containerId: rec.id });
      }
    } catch (e) {
      db.prepare("DELETE FROM container_ports WHERE container_id = ?").run(rec.id);
      throw e;
    }
    return out;
  }

  releasePorts(id: string): void {
    this.store.db.prepare("DELETE FROM container_ports WHERE container_id = ?").run(id);
  }

  boundPorts(id?: string): BoundPort[] {
    const rows = (id ? this.store.db.prepare("SELECT * FROM container_ports WHERE container_id = ?").all(id) : this.store.db.prepare("SELECT * FROM container_ports").all()) as {
      container_id: string;
      host_ip: string;
      host_port: number;
      container_port: number;
      protocol: "tcp" | "udp";
    }[];
    return rows.map((r) => ({ containerId: r.container_id, ...(r.host_ip ? { hostIp: r.host_ip } : {}), hostPort: r.host_port, containerPort: r.container_port, protocol: r.protocol }));
  }

  /** Rewrite berth's nftables table from the stored networks and published ports (one atomic `nft -f`). */
  async syncFirewall(): Promise<void> {
    const networks: NftNetwork[] = this.store
      .list()
      .filter((n) => n.driver === "bridge")
      .map((n) => ({ bridge: n.interface, subnets: n.subnets.map((s) => s.subnet), ...(n.options.internal ? { internal: true } : {}) }));
    if (!networks.length) {
      await deleteNftTable(this.table);
      return;
    }
    const ports: NftPort[] = [];
    for (const p of this.boundPorts()) {
      const addr = this.firstAddresses(p.containerId);
      const ip = p.hostIp?.includes(":") ? addr.v6 : addr.v4;
      if (ip) ports.push({ ...(p.hostIp ? { hostIp: p.hostIp } : {}), hostPort: p.hostPort, proto: p.protocol, containerIp: ip, containerPort: p.containerPort });
    }
    await applyNft(renderNftScript({ table: this.table, networks, ports }));
    // Published ports answer on 127.0.0.1 too: the kernel routes DNATed loopback traffic onto a bridge only
    // with route_localnet on it (per bridge; it goes with the bridge).
    if (ports.length) await applySysctls(localnetSysctls(networks));
  }

  private toInspect(n: NetworkRecord): NetworkInspect {
    const containers: NetworkInspect["Containers"] = {};
    for (const m of this.store.members(n.id)) {
      const v4 = m.addresses.find((a) => a.family === 4);
      const v6 = m.addresses.find((a) => a.family === 6);
      containers[m.containerId] = {
        Name: m.containerName,
        MacAddress: m.mac,
        IPv4Address: v4 ? `${v4.address}/${v4.prefix}` : "",
        IPv6Address: v6 ? `${v6.address}/${v6.prefix}` : "",
        Interface: m.interface,
        Aliases: m.aliases,
      };
    }
    const options: Record<string, string> = {};
    if (n.driver === "bridge") options["bridge"] = n.interface;
    else {
      options["parent"] = n.interface;
      options["mode"] = String(n.options.mode ?? "bridge");
    }
    if (n.options.mtu) options["mtu"] = String(n.options.mtu);
    if (n.options.promisc) options["promisc"] = "true";
    return {
      Name: n.name,
      Id: n.id,
      Created: new Date(n.created).toISOString(),
      Scope: "local",
      Driver: n.driver,
      EnableIPv6: n.subnets.some((s) => s.family === 6),
      IPAM: { Driver: "default", Config: n.subnets.map((s) => ({ Subnet: s.subnet, Gateway: s.gateway, ...(s.ipRange ? { IPRange: s.ipRange } : {}) })) },
      Internal: !!n.options.internal,
      Options: options,
      Labels: (n.options.labels as Record<string, string> | undefined) ?? {},
      Containers: containers,
    };
  }
}

function portFree(port: number, proto: "tcp" | "udp", host?: string): Promise<boolean> {
  if (proto === "udp") return Promise.resolve(true);
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen({ port, ...(host ? { host } : {}), exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A free port from the kernel's ephemeral range (bind to 0, read, release). */
function freePort(_proto: "tcp" | "udp", host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen({ port: 0, ...(host ? { host } : {}), exclusive: true }, () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}
