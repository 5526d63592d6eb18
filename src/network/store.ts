/**
 * Network metadata: networks and their subnets, address allocations and container attachments, in
 * SQLite. Every decision that must hold across concurrent berth processes (a name, a subnet, an address,
 * an interface name) is read and written inside one IMMEDIATE transaction, which takes the write lock
 * first; primary keys and UNIQUE constraints back that up. The math lives in core/net (pure).
 */
import { conflict, invalid, notFound, precondition } from "../core/errors.js";
import { lazyCrypto } from "../core/lazy.js";
import {
  canonicalIp,
  contains,
  familyName,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  type Cidr,
  type Family,
} from "../core/net/cidr.js";
import { checkStatic, nextFree, planSubnet, type SubnetPlan } from "../core/net/ipam.js";
import { normalizeMac, stableMac } from "../core/net/mac.js";
import { chooseSubnet, DEFAULT_POOLS, networkRanges, refuseOverlap, type PoolSpec, type TakenRange } from "../core/net/pool.js";
import type { Db } from "../store/db.js";

export type NetworkDriver = "bridge" | "macvlan";

/** Driver and user options, stored as JSON for the engine; the store does not interpret them. */
export interface NetworkOptions {
  internal?: boolean;
  /** macvlan mode: bridge | passthru | private | vepa. */
  mode?: string;
  mtu?: number;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface SubnetRecord {
  subnet: string;
  family: Family;
  gateway: string;
  ipRange: string | null;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: NetworkDriver;
  /** The bridge name, or the macvlan parent. */
  interface: string;
  options: NetworkOptions;
  created: number;
  /** In creation order (IPv4 and IPv6 mixed as given). */
  subnets: SubnetRecord[];
}

export interface SubnetRequest {
  subnet: string;
  gateway?: string;
  ipRange?: string;
}

export interface CreateNetworkRequest {
  name: string;
  driver?: NetworkDriver;
  /** Bridge name (default `br-` + 12 ID characters, Docker's) or the macvlan parent (required). */
  interface?: string;
  options?: NetworkOptions;
  subnets?: SubnetRequest[];
  /** Give the network an IPv4 subnet from the pools when none is given (default true). */
  ipv4?: boolean;
  /** Give the network an IPv6 subnet from the pools when none is given (default false; a given IPv6 subnet enables IPv6 anyway). */
  ipv6?: boolean;
  /**
   * Ranges in use on the host (core/net routesFromJson/addressesFromJson): given subnets overlapping them
   * are refused, chosen ones avoid them. A macvlan network usually shares its parent's subnet: leave empty.
   */
  hostRanges?: readonly TakenRange[];
  pools?: readonly PoolSpec[];
  /** Fixed ID (tests, import); default random. */
  id?: string;
  created?: number;
}

export interface AddressRecord {
  family: Family;
  address: string;
  /** Prefix length of the subnet holding the address. */
  prefix: number;
  gateway: string;
}

export interface AttachmentRecord {
  containerId: string;
  containerName: string;
  networkId: string;
  networkName: string;
  /** eth0, eth1, ... */
  interface: string;
  mac: string;
  aliases: string[];
  /** Connect order. */
  position: number;
  addresses: AddressRecord[];
}

export interface ConnectRequest {
  aliases?: string[];
  /** `--mac-address`; default stableMac(containerId, networkId). */
  mac?: string;
  /** `--ip`, `--ip6`: static addresses. */
  ipv4?: string;
  ipv6?: string;
}

interface NetworkRow {
  id: string;
  name: string;
  driver: NetworkDriver;
  interface: string;
  options: string;
  created: number;
}

interface SubnetRow {
  network_id: string;
  subnet: string;
  family: Family;
  gateway: string | null;
  ip_range: string | null;
  last_address: string | null;
}

interface AttachmentRow {
  container_id: string;
  container_name: string;
  network_id: string;
  network_name: string;
  interface: string;
  mac: string;
  aliases: string;
  position: number;
}

export const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Names that `--network` reads as a mode, never as a network. */
export const RESERVED_NETWORK_NAMES: ReadonlySet<string> = new Set(["host", "none"]);

const sqliteCode = (e: unknown): string | undefined => (e as { code?: string }).code;

export class NetworkStore {
  constructor(readonly db: Db) {}

  // ---- networks --------------------------------------------------------------------------------

  /**
   * Create a network. Given subnets are validated and refused when they overlap another berth network or
   * a host range; missing families are filled from the pools, avoiding both. All in one write transaction,
   * so two concurrent creates never pick the same subnet or name.
   */
  create(req: CreateNetworkRequest): NetworkRecord {
    const name = req.name;
    if (!NETWORK_NAME_RE.test(name)) throw invalid(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (RESERVED_NETWORK_NAMES.has(name)) throw invalid(`invalid network name "${name}": it is reserved for --network ${name}`);
    const driver = req.driver ?? "bridge";
    if (driver !== "bridge" && driver !== "macvlan") throw invalid(`invalid network driver "${String(driver)}": use bridge or macvlan`);
    if (driver === "macvlan" && !req.interface) throw invalid(`macvlan network "${name}" needs a parent interface (-o parent=IF)`);
    const id = req.id ?? lazyCrypto().randomBytes(32).toString("hex");
    const iface = req.interface ?? `br-${id.slice(0, 12)}`;
    const label = `network "${name}"`;

    // Parse and check the request on its own before taking the lock.
    const plans = (req.subnets ?? []).map((s) => planSubnet(s, label));
    for (let i = 0; i < plans.length; i++) {
      refuseOverlap(plans[i]!.subnet, networkRanges(name, plans.slice(0, i).map((p) => p.subnet)));
    }
    const hostRanges = req.hostRanges ?? [];
    for (const p of plans) refuseOverlap(p.subnet, hostRanges);

    return this.db.transaction((): NetworkRecord => {
      const holder = this.db.prepare("SELECT id FROM networks WHERE name = ?").get(name) as { id: string } | undefined;
      if (holder) throw conflict(`network with name "${name}" already exists (${holder.id.slice(0, 12)})`);
      const others = this.takenByNetworks();
      for (const p of plans) refuseOverlap(p.subnet, others);
      const taken = [...others, ...hostRanges, ...networkRanges(name, plans.map((p) => p.subnet))];
      const families = new Set(plans.map((p) => p.subnet.family));
      for (const [family, wanted] of [
        [4, req.ipv4 ?? true],
        [6, req.ipv6 ?? false],
      ] as const) {
        if (!wanted || families.has(family)) continue;
        const chosen = chooseSubnet(family, taken, req.pools ?? DEFAULT_POOLS);
        const plan = planSubnet({ subnet: formatCidr(chosen) }, label);
        plans.push(plan);
        taken.push(...networkRanges(name, [chosen]));
      }
      if (!plans.length) throw invalid(`${label} would have no subnet: enable IPv4 or IPv6, or give --subnet`);
      try {
        this.db
          .prepare("INSERT INTO networks (id, name, driver, interface, options, created) VALUES (?, ?, ?, ?, ?, ?)")
          .run(id, name, driver, iface, JSON.stringify(req.options ?? {}), req.created ?? Date.now());
      } catch (e) {
        if (sqliteCode(e) === "SQLITE_CONSTRAINT_PRIMARYKEY") throw conflict(`network ID ${id} already exists`);
        throw e;
      }
      const ins = this.db.prepare("INSERT INTO network_subnets (network_id, subnet, family, gateway, ip_range) VALUES (?, ?, ?, ?, ?)");
      for (const p of plans) {
        ins.run(id, formatCidr(p.subnet), p.subnet.family, formatIp(p.subnet.family, p.gateway), p.ipRange ? formatCidr(p.ipRange) : null);
      }
      return this.get(id)!;
    }).immediate();
  }

  get(id: string): NetworkRecord | undefined {
    const r = this.db.prepare("SELECT * FROM networks WHERE id = ?").get(id) as NetworkRow | undefined;
    return r && this.toRecord(r);
  }

  /** A full ID, a name, or a unique ID prefix (Docker's lookup order). */
  resolve(ref: string): NetworkRecord {
    if (!ref) throw invalid("network name or ID must not be empty");
    const byId = this.db.prepare("SELECT * FROM networks WHERE id = ?").get(ref) as NetworkRow | undefined;
    if (byId) return this.toRecord(byId);
    const byName = this.db.prepare("SELECT * FROM networks WHERE name = ?").get(ref) as NetworkRow | undefined;
    if (byName) return this.toRecord(byName);
    if (/^[0-9a-f]+$/.test(ref)) {
      const rows = this.db.prepare("SELECT * FROM networks WHERE id LIKE ? LIMIT 2").all(`${ref}%`) as NetworkRow[];
      if (rows.length === 1) return this.toRecord(rows[0]!);
      if (rows.length > 1) throw invalid(`network ID prefix "${ref}" is ambiguous: give more characters`);
    }
    throw notFound(`no such network: ${ref}`);
  }

  /** All networks, oldest first. */
  list(): NetworkRecord[] {
    const rows = this.db.prepare("SELECT * FROM networks ORDER BY created, name").all() as NetworkRow[];
    const subnets = this.db.prepare("SELECT * FROM network_subnets ORDER BY rowid").all() as SubnetRow[];
    return rows.map((r) => this.toRecord(r, subnets.filter((s) => s.network_id === r.id)));
  }

  /** Every berth network's subnets as taken ranges (for pool choices and overlap checks). */
  takenByNetworks(): TakenRange[] {
    const rows = this.db.prepare("SELECT n.name, s.subnet FROM network_subnets s JOIN networks n ON n.id = s.network_id ORDER BY s.rowid").all() as { name: string; subnet: string }[];
    return rows.map((r) => ({ cidr: parseCidr(r.subnet), owner: `network "${r.name}"` }));
  }

  /**
   * Remove a network with its subnets and addresses. Attached containers are a CONFLICT naming them unless
   * `force`, which detaches them too; the detached attachments are returned so the caller can take down
   * their links.
   */
  remove(id: string, opts: { force?: boolean } = {}): AttachmentRecord[] {
    return this.db.transaction((): AttachmentRecord[] => {
      const net = this.get(id);
      if (!net) throw notFound(`no such network: ${id}`);
      const members = this.members(id);
      if (members.length && !opts.force) {
        const names = members.map((m) => m.containerName);
        throw conflict(`network "${net.name}" has attached containers (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}): disconnect or remove them first`);
      }
      this.db.prepare("DELETE FROM container_networks WHERE network_id = ?").run(id);
      this.db.prepare("DELETE FROM networks WHERE id = ?").run(id);
      return members;
    }).immediate();
  }

  // ---- addresses -------------------------------------------------------------------------------

  /**
   * Allocate the container's address of one family on a network (or check and take the requested static
   * one). Idempotent: a container that already holds an address of that family gets it back. Returns the
   * canonical address text.
   */
  allocate(networkId: string, containerId: string, family: Family, requested?: string): string {
    return this.db.transaction((): string => {
      const net = this.get(networkId);
      if (!net) throw notFound(`no such network: ${networkId}`);
      return this.allocateIn(net, containerId, family, requested);
    }).immediate();
  }

  /** Free the container's addresses on one network, or on all; returns how many were freed. */
  release(containerId: string, networkId?: string): number {
    const r =
      networkId === undefined
        ? this.db.prepare("DELETE FROM network_addresses WHERE container_id = ?").run(containerId)
        : this.db.prepare("DELETE FROM network_addresses WHERE container_id = ? AND network_id = ?").run(containerId, networkId);
    return r.changes;
  }

  /** The addresses a container holds on a network. */
  addresses(networkId: string, containerId: string): AddressRecord[] {
    const net = this.get(networkId);
    return net ? this.addressesOf(net, containerId) : [];
  }

  // ---- attachments -----------------------------------------------------------------------------

  /**
   * Attach a container to a network without addresses: the next free ethN, the next position, the stable
   * (or given) MAC. Connecting twice is a CONFLICT.
   */
  attach(containerId: string, networkId: string, req: Pick<ConnectRequest, "aliases" | "mac"> = {}): AttachmentRecord {
    return this.db.transaction((): AttachmentRecord => {
      const net = this.get(networkId);
      if (!net) throw notFound(`no such network: ${networkId}`);
      this.insertAttachment(net, containerId, req);
      return this.attachment(containerId, networkId)!;
    }).immediate();
  }

  /**
   * Attach a container and allocate its addresses (one per family the network has; `ipv4`/`ipv6` ask for
   * static ones) in one transaction: either all of it is recorded or nothing.
   */
  connect(containerId: string, networkId: string, req: ConnectRequest = {}): AttachmentRecord {
    return this.db.transaction((): AttachmentRecord => {
      const net = this.get(networkId);
      if (!net) throw notFound(`no such network: ${networkId}`);
      const families = new Set(net.subnets.map((s) => s.family));
      for (const [family, ip, flag] of [
        [4, req.ipv4, "--ip"],
        [6, req.ipv6, "--ip6"],
      ] as const) {
        if (ip && !families.has(family)) throw invalid(`${flag} ${ip}: network "${net.name}" has no ${familyName(family)} subnet`);
      }
      this.insertAttachment(net, containerId, req);
      for (const family of [4, 6] as const) {
        if (families.has(family)) this.allocateIn(net, containerId, family, family === 4 ? req.ipv4 : req.ipv6);
      }
      return this.attachment(containerId, networkId)!;
    }).immediate();
  }

  /** Detach a container and free its addresses there; returns what was removed. */
  disconnect(containerId: string, networkId: string): AttachmentRecord {
    return this.db.transaction((): AttachmentRecord => {
      const a = this.attachment(containerId, networkId);
      if (!a) {
        const net = this.get(networkId);
        throw notFound(`container ${containerId.slice(0, 12)} is not connected to network ${net ? `"${net.name}"` : networkId}`);
      }
      this.db.prepare("DELETE FROM container_networks WHERE container_id = ? AND network_id = ?").run(containerId, networkId);
      this.release(containerId, networkId);
      return a;
    }).immediate();
  }

  /** Replace the aliases of an attachment (e.g. after a rename). */
  setAliases(containerId: string, networkId: string, aliases: string[]): void {
    this.db.prepare("UPDATE container_networks SET aliases = ? WHERE container_id = ? AND network_id = ?").run(JSON.stringify(aliases), containerId, networkId);
  }

  attachment(containerId: string, networkId: string): AttachmentRecord | undefined {
    const row = this.db.prepare(`${ATTACHMENT_SELECT} WHERE cn.container_id = ? AND cn.network_id = ?`).get(containerId, networkId) as AttachmentRow | undefined;
    return row && this.toAttachment(row, this.get(row.network_id));
  }

  /** A container's networks in connect order. */
  attachments(containerId: string): AttachmentRecord[] {
    const rows = this.db.prepare(`${ATTACHMENT_SELECT} WHERE cn.container_id = ? ORDER BY cn.position`).all(containerId) as AttachmentRow[];
    return this.toAttachments(rows);
  }

  /** A network's containers (for hosts files and `network inspect`), in connect order. */
  members(networkId: string): AttachmentRecord[] {
    const rows = this.db.prepare(`${ATTACHMENT_SELECT} WHERE cn.network_id = ? ORDER BY cn.rowid`).all(networkId) as AttachmentRow[];
    const net = this.get(networkId);
    if (!net) return rows.map((r) => this.toAttachment(r, undefined));
    // One query for every member's addresses: a lab's hosts files list all of its nodes, at each start.
    const all = this.db.prepare("SELECT container_id, address, family FROM network_addresses WHERE network_id = ? ORDER BY family").all(networkId) as AddressRow[];
    const byContainer = new Map<string, AddressRow[]>();
    for (const a of all) {
      const list = byContainer.get(a.container_id);
      if (list) list.push(a);
      else byContainer.set(a.container_id, [a]);
    }
    const subnets = subnetsOf(net);
    return rows.map((r) => this.toAttachment(r, undefined, addressRecords(byContainer.get(r.container_id) ?? [], subnets)));
  }

  /** Number of containers attached to a network (prune keeps networks with any). */
  attachedCount(networkId: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM container_networks WHERE network_id = ?").get(networkId) as { n: number }).n;
  }

  // ---- internals -------------------------------------------------------------------------------

  private toRecord(r: NetworkRow, subnetRows?: SubnetRow[]): NetworkRecord {
    const rows = subnetRows ?? (this.db.prepare("SELECT * FROM network_subnets WHERE network_id = ? ORDER BY rowid").all(r.id) as SubnetRow[]);
    return {
      id: r.id,
      name: r.name,
      driver: r.driver,
      interface: r.interface,
      options: JSON.parse(r.options) as NetworkOptions,
      created: r.created,
      subnets: rows.map((s) => ({ subnet: s.subnet, family: s.family, gateway: s.gateway ?? "", ipRange: s.ip_range })),
    };
  }

  private plansOf(net: NetworkRecord): SubnetPlan[] {
    return net.subnets.map((s) => planSubnet({ subnet: s.subnet, gateway: s.gateway || undefined, ipRange: s.ipRange }, `network "${net.name}"`));
  }

  private allocateIn(net: NetworkRecord, containerId: string, family: Family, requested?: string): string {
    const label = `network "${net.name}"`;
    const subs = net.subnets.filter((s) => s.family === family);
    if (!subs.length) throw precondition(`${label} has no ${familyName(family)} subnet`);
    const held = this.db.prepare("SELECT address FROM network_addresses WHERE network_id = ? AND container_id = ? AND family = ?").get(net.id, containerId, family) as
      | { address: string }
      | undefined;
    const want = requested === undefined || requested === "" ? undefined : parseIp(requested, `${familyName(family)} address`);
    if (want && want.family !== family) throw invalid(`invalid ${familyName(family)} address "${requested}": it is an ${familyName(want.family)} address`);
    if (held) {
      if (want && canonicalIp(requested!) !== held.address) {
        throw conflict(`container ${containerId.slice(0, 12)} already has address ${held.address} on ${label}`);
      }
      return held.address;
    }
    const used = new Map<bigint, string>();
    const rows = this.db
      .prepare("SELECT a.address, c.name FROM network_addresses a LEFT JOIN containers c ON c.id = a.container_id WHERE a.network_id = ? AND a.family = ?")
      .all(net.id, family) as { address: string; name: string | null }[];
    for (const r of rows) used.set(parseIp(r.address).value, r.name ? `container "${r.name}"` : "another container");
    const plans = this.plansOf(net).filter((p) => p.subnet.family === family);

    let address: bigint | undefined;
    let plan: SubnetPlan | undefined;
    if (want) {
      plan = plans.find((p) => contains(p.subnet, want.value));
      if (!plan) throw invalid(`invalid address "${formatIp(family, want.value)}": not inside the ${familyName(family)} subnets of ${label} (${plans.map((p) => formatCidr(p.subnet)).join(", ")})`);
      address = checkStatic(plan, want.value, used, label);
    } else {
      for (const p of plans) {
        const cursorRow = this.db.prepare("SELECT last_address FROM network_subnets WHERE network_id = ? AND subnet = ?").get(net.id, formatCidr(p.subnet)) as
          | { last_address: string | null }
          | undefined;
        const after = cursorRow?.last_address ? parseIp(cursorRow.last_address).value : undefined;
        address = nextFree(p, used, after);
        if (address !== undefined) {
          plan = p;
          break;
        }
      }
      if (address === undefined || !plan) {
        const ranges = plans.map((p) => (p.ipRange ? `${formatCidr(p.subnet)} range ${formatCidr(p.ipRange)}` : formatCidr(p.subnet))).join(", ");
        throw precondition(`no free ${familyName(family)} address left on ${label} (${ranges}): remove containers from it or give it a larger subnet`);
      }
      this.db.prepare("UPDATE network_subnets SET last_address = ? WHERE network_id = ? AND subnet = ?").run(formatIp(family, address), net.id, formatCidr(plan.subnet));
    }
    const text = formatIp(family, address);
    try {
      this.db.prepare("INSERT INTO network_addresses (network_id, address, family, container_id) VALUES (?, ?, ?, ?)").run(net.id, text, family, containerId);
    } catch (e) {
      const code = sqliteCode(e);
      if (code === "SQLITE_CONSTRAINT_FOREIGNKEY") throw notFound(`no such container: ${containerId}`);
      if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") throw conflict(`address ${text} is already in use on ${label}`);
      throw e;
    }
    return text;
  }

  private insertAttachment(net: NetworkRecord, containerId: string, req: Pick<ConnectRequest, "aliases" | "mac">): void {
    const existing = this.db.prepare("SELECT interface, position FROM container_networks WHERE container_id = ?").all(containerId) as { interface: string; position: number }[];
    if (this.db.prepare("SELECT 1 FROM container_networks WHERE container_id = ? AND network_id = ?").get(containerId, net.id)) {
      throw conflict(`container ${containerId.slice(0, 12)} is already connected to network "${net.name}"`);
    }
    const usedIf = new Set(existing.map((e) => e.interface));
    let n = 0;
    while (usedIf.has(`eth${n}`)) n++;
    const position = existing.reduce((m, e) => Math.max(m, e.position + 1), 0);
    const mac = req.mac ? normalizeMac(req.mac) : stableMac(containerId, net.id);
    try {
      this.db
        .prepare("INSERT INTO container_networks (container_id, network_id, interface, mac, aliases, position) VALUES (?, ?, ?, ?, ?, ?)")
        .run(containerId, net.id, `eth${n}`, mac, JSON.stringify(req.aliases ?? []), position);
    } catch (e) {
      if (sqliteCode(e) === "SQLITE_CONSTRAINT_FOREIGNKEY") throw notFound(`no such container: ${containerId}`);
      throw e;
    }
  }

  private addressesOf(net: NetworkRecord, containerId: string): AddressRecord[] {
    const rows = this.db.prepare("SELECT container_id, address, family FROM network_addresses WHERE network_id = ? AND container_id = ? ORDER BY family").all(net.id, containerId) as AddressRow[];
    return addressRecords(rows, subnetsOf(net));
  }

  private toAttachments(rows: AttachmentRow[]): AttachmentRecord[] {
    const nets = new Map<string, NetworkRecord | undefined>();
    return rows.map((r) => {
      if (!nets.has(r.network_id)) nets.set(r.network_id, this.get(r.network_id));
      return this.toAttachment(r, nets.get(r.network_id));
    });
  }

  /** `addresses` when the caller has them already; otherwise they are read for `net`. */
  private toAttachment(r: AttachmentRow, net: NetworkRecord | undefined, addresses?: AddressRecord[]): AttachmentRecord {
    return {
      containerId: r.container_id,
      containerName: r.container_name,
      networkId: r.network_id,
      networkName: r.network_name,
      interface: r.interface,
      mac: r.mac,
      aliases: JSON.parse(r.aliases) as string[],
      position: r.position,
      addresses: addresses ?? (net ? this.addressesOf(net, r.container_id) : []),
    };
  }
}

interface AddressRow {
  container_id: string;
  address: string;
  family: Family;
}

type ParsedSubnet = { cidr: ReturnType<typeof parseCidr>; gateway: string };

function subnetsOf(net: NetworkRecord): ParsedSubnet[] {
  return net.subnets.map((s) => ({ cidr: parseCidr(s.subnet), gateway: s.gateway }));
}

function addressRecords(rows: readonly AddressRow[], subnets: readonly ParsedSubnet[]): AddressRecord[] {
  return rows.map((r) => {
    const a = parseIp(r.address);
    const s = subnets.find((x) => contains(x.cidr, a));
    return { family: r.family, address: r.address, prefix: s?.cidr.prefix ?? (r.family === 4 ? 32 : 128), gateway: s?.gateway ?? "" };
  });
}

const ATTACHMENT_SELECT = `SELECT cn.container_id, c.name AS container_name, cn.network_id, n.name AS network_name, cn.interface, cn.mac, cn.aliases, cn.position
  FROM container_networks cn JOIN containers c ON c.id = cn.container_id JOIN networks n ON n.id = cn.network_id`;

/** The subnets of a record parsed back (for planners). */
export function subnetCidrs(net: NetworkRecord): Cidr[] {
  return net.subnets.map((s) => parseCidr(s.subnet));
}
