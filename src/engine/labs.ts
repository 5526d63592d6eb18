/**
 * Labs: the executor of lab plans, over the engine's containers and networks.
 *
 * A node is a container that keeps its netns across stops (keepNetns). Its netns is made before it
 * starts, with the management interface (eth0 on the lab's own bridge network); then every data link
 * of the lab goes in as one host `ip -batch`, and the nodes start in parallel with their links already
 * there. `down` stops the containers and leaves the netns, so links and addresses survive to `resume`;
 * removing a node's container removes its netns, and with it its ends of every veth.
 *
 * A lab's row is written before anything is built, so a failure midway is rolled back by the same code
 * that `destroy` runs, and a crash midway leaves a lab that `destroy` removes.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { BerthError, invalid, notFound } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { mapLimit, settleLimit } from "../core/map-limit.js";
import type { ContainerOptions, FileInjection, MountOption } from "../core/spec/types.js";
import { labExists, LabStore, type LabRecord, type LabState } from "../lab/store.js";
import type { LabPlan, NodePlan } from "../lab/types.js";
import { planStash, planUnwiring, planWiring, stashName } from "../lab/wiring.js";
import { applyBatch } from "../network/apply.js";
import { createNetns, deleteNetns, netnsExists, netnsPath } from "../network/netns.js";
import { run, withLauncher } from "../runtime/exec-file.js";
import type { Db } from "../store/db.js";
import type { StreamSet } from "./container-types.js";
import type { Containers } from "./containers.js";
import type { Images } from "./images.js";

/** Lab management networks come from here unless the manifest says otherwise (the issue's defaults). */
export const MGMT_POOLS = [
  { base: "172.31.0.0/16", size: 24 },
  { base: "fd00:b00b::/48", size: 64 },
] as const;

export const LAB_LABEL = "berth.lab";
export const NODE_LABEL = "berth.lab.node";

export type LabStep = "pull" | "create" | "wire" | "start" | "exec" | "ready" | "stop" | "remove" | "warning";

export interface LabEvent {
  node?: string;
  step: LabStep;
  message?: string;
}

export interface LabRunOptions {
  onEvent?: (e: LabEvent) => void;
  /** Nodes started at once (default 4: each start is mostly waiting on runc). */
  concurrency?: number;
}

export interface LabNodeView {
  name: string;
  container: string;
  id?: string;
  model: string;
  image: string;
  state: string;
  mgmtIpv4?: string;
  mgmtIpv6?: string;
  interfaces: { name: string; peer: string | null }[];
}

export interface LabView {
  name: string;
  manifest: string;
  state: LabState;
  mgmt: { network: string; bridge: string; ipv4Subnet?: string; ipv6Subnet?: string };
  nodes: LabNodeView[];
  sshConfig: string;
  /** Non-fatal problems of the last operation (an `exec` line that failed). */
  warnings: string[];
}

export interface LabsContext {
  root: string;
  runroot: string;
  log: Logger;
  db: Db;
  containers: Containers;
  images: Images;
}

const PARK = (lab: string) => `lab.${lab}.park`;

async function linkNames(netns: string): Promise<string[]> {
  const r = await run("nsenter", [`--net=${netns}`, "ip", "-j", "link", "show"]);
  return (JSON.parse(r.stdout || "[]") as { ifname: string }[]).map((l) => l.ifname);
}

export class Labs {
  readonly store: LabStore;

  constructor(private readonly ctx: LabsContext) {
    this.store = new LabStore(ctx.db);
  }

  private get networks() {
    return this.ctx.containers.networks;
  }

  private dir(lab: string): string {
    return join(this.ctx.root, "labs", lab);
  }

  // ---------------------------------------------------------------- up

  /** Deploy the lab a manifest describes. Nothing is left behind if it fails. */
  async up(file: string, opts: LabRunOptions = {}): Promise<LabView> {
    return withLauncher(async () => {
      const manifest = resolve(file);
      const text = await readFile(manifest, "utf8").catch((e: NodeJS.ErrnoException) => {
        throw e.code === "ENOENT" ? notFound(`lab manifest ${manifest}: no such file`) : invalid(`lab manifest ${manifest}: ${e.message}`);
      });
      // yaml and zod load here, not when the engine opens: every other command would pay ~45 ms for them.
      const [{ parseManifest }, { planLab }] = await Promise.all([import("../lab/manifest.js"), import("../lab/plan.js")]);
      const plan = planLab(parseManifest(text, { baseDir: dirname(manifest), file: manifest }));
      // Before any pull: the insert below refuses it too, atomically, should another `up` win the race.
      if (this.store.find(plan.name)) throw labExists(plan.name);
      await this.preflight(plan, opts);
      this.store.insert(plan, manifest);
      const warnings: string[] = [];
      try {
        const deployed = await this.createMgmt(plan);
        await mapLimit(deployed.nodes, 8, async (n) => void (await this.createNode(deployed, n, opts)));
        await createNetns(this.ctx.runroot, PARK(plan.name));
        await this.wire(deployed, deployed.nodes, { createBridges: true }, opts);
        await this.startNodes(deployed, deployed.nodes, opts, warnings);
        this.store.update(plan.name, { state: "running" });
        const view = await this.inspect(plan.name);
        await this.writeSshConfig(plan.name, view.nodes);
        return { ...view, warnings };
      } catch (e) {
        opts.onEvent?.({ step: "warning", message: `deploy failed, rolling back: ${(e as Error).message}` });
        await this.teardown(plan.name).catch((err) => this.ctx.log.warn(`rollback of lab ${plan.name}: ${(err as Error).message}`));
        throw e;
      }
    });
  }

  /** Everything that can be checked before anything is built: images (pulled if missing) and files. */
  private async preflight(plan: LabPlan, opts: LabRunOptions): Promise<void> {
    for (const n of plan.nodes) {
      for (const f of n.files) if (f.source !== undefined && !existsSync(f.source)) throw notFound(`lab ${plan.name}: node ${n.name}: file ${f.source} does not exist`);
      for (const b of n.binds) {
        const src = b.split(":")[0]!;
        if (!existsSync(src)) throw notFound(`lab ${plan.name}: node ${n.name}: bind source ${src} does not exist`);
      }
    }
    for (const image of new Set(plan.nodes.map((n) => n.image))) {
      try {
        this.ctx.images.get(image);
      } catch (e) {
        if (!(e instanceof BerthError) || e.code !== "NOT_FOUND") throw e;
        opts.onEvent?.({ step: "pull", message: image });
        await this.ctx.images.pull(image).catch((err: Error) => {
          throw new BerthError(err instanceof BerthError ? err.code : "UNAVAILABLE", `lab ${plan.name}: image ${image}: ${err.message}`);
        });
      }
    }
  }

  /** The lab's management network; the plan gets the subnets chosen for it. */
  private async createMgmt(plan: LabPlan): Promise<LabPlan> {
    const subnets = [plan.mgmt.ipv4Subnet, plan.mgmt.ipv6Subnet].filter((s): s is string => !!s).map((subnet) => ({ subnet }));
    const net = await this.networks.create({
      name: plan.mgmt.network,
      ipv6: true,
      ...(subnets.length ? { subnets } : {}),
      options: { bridge: plan.mgmt.bridge },
      labels: { [LAB_LABEL]: plan.name },
      pools: MGMT_POOLS,
    });
    const v4 = net.IPAM.Config.find((c) => !c.Subnet.includes(":"))?.Subnet;
    const v6 = net.IPAM.Config.find((c) => c.Subnet.includes(":"))?.Subnet;
    const deployed: LabPlan = { ...plan, mgmt: { ...plan.mgmt, ...(v4 ? { ipv4Subnet: v4 } : {}), ...(v6 ? { ipv6Subnet: v6 } : {}) } };
    this.store.update(plan.name, { plan: deployed, mgmtNetwork: net.Id });
    return deployed;
  }

  private async createNode(plan: LabPlan, n: NodePlan, opts: LabRunOptions, keep?: { ipv4?: string; ipv6?: string }): Promise<string> {
    opts.onEvent?.({ node: n.name, step: "create" });
    const files = await this.materializeFiles(plan, n);
    const mounts: MountOption[] = n.binds.map((b) => {
      const [source, destination, mode] = b.split(":");
      return { type: "bind", source: source!, destination: destination!, ...(mode === "ro" ? { readOnly: true } : {}) };
    });
    const ipv4 = n.mgmtIpv4 ?? keep?.ipv4;
    const ipv6 = n.mgmtIpv6 ?? keep?.ipv6;
    const o: ContainerOptions = {
      image: n.image,
      name: n.container,
      hostname: n.name,
      network: plan.mgmt.network,
      networkAliases: [n.name],
      keepNetns: true,
      labels: { [LAB_LABEL]: plan.name, [NODE_LABEL]: n.name },
      env: n.env,
      privileged: n.privileged,
      ...(n.cmd ? { cmd: n.cmd } : {}),
      ...(n.entrypoint ? { entrypoint: n.entrypoint } : {}),
      ...(n.user ? { user: n.user } : {}),
      ...(n.shmSize ? { shmSize: n.shmSize } : {}),
      ...(Object.keys(n.sysctls).length ? { sysctls: n.sysctls } : {}),
      ...(n.capAdd.length ? { capAdd: n.capAdd } : {}),
      ...(n.cpus ? { cpus: n.cpus } : {}),
      ...(n.memory ? { memory: n.memory } : {}),
      ...(ipv4 ? { ip: ipv4 } : {}),
      ...(ipv6 ? { ip6: ipv6 } : {}),
      ...(files.length ? { files } : {}),
      ...(mounts.length ? { mounts } : {}),
    };
    const { id } = await this.ctx.containers.create(o, { pull: "never" });
    return id;
  }

  /** Model files have inline content: written under the lab's folder so injection copies them like any file. */
  private async materializeFiles(plan: LabPlan, n: NodePlan): Promise<FileInjection[]> {
    const out: FileInjection[] = [];
    let k = 0;
    for (const f of n.files) {
      let source = f.source;
      if (source === undefined) {
        const dir = join(this.dir(plan.name), "files", n.name);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        source = join(dir, `${k++}`);
        await writeFile(source, f.content ?? "", { mode: 0o600 });
      }
      out.push({ source, destination: f.destination, ...(f.owner ? { owner: f.owner } : {}), ...(f.group ? { group: f.group } : {}), ...(f.mode !== undefined ? { mode: f.mode } : {}) });
    }
    return out;
  }

  private containerId(name: string): string | undefined {
    try {
      return this.ctx.containers.store.resolve(name).id;
    } catch (e) {
      if (e instanceof BerthError && e.code === "NOT_FOUND") return undefined;
      throw e;
    }
  }

  private nodeNetns(plan: LabPlan): (node: string) => string {
    const ids = new Map(plan.nodes.map((n) => [n.name, this.ctx.containers.store.resolve(n.container).id]));
    return (node) => netnsPath(this.ctx.runroot, ids.get(node)!);
  }

  /**
   * Make the netns of `nodes` (those that lack one), with their management interfaces, and wire the data
   * links touching them (all links when `nodes` is the whole lab). One helper makes every netns, one host
   * batch holds every host-side line, and each node gets one batch inside (its eth0 and its link ends).
   */
  private async wire(plan: LabPlan, nodes: readonly NodePlan[], how: { createBridges: boolean; stashed?: ReadonlySet<string> }, opts: LabRunOptions): Promise<void> {
    const mgmt = await this.ctx.containers.planNetnsMany(nodes.map((n) => n.container));
    opts.onEvent?.({ step: "wire", message: `${plan.links.length} links, ${plan.bridges.length} bridges` });
    const netns = this.nodeNetns(plan);
    const park = netnsPath(this.ctx.runroot, PARK(plan.name));
    const only = nodes.length === plan.nodes.length ? undefined : new Set(nodes.map((n) => n.name));
    const w = planWiring({ plan, netns, park, createBridges: how.createBridges, ...(only ? { only } : {}), ...(how.stashed ? { stashed: how.stashed } : {}) });
    const inside = new Map(nodes.map((n) => [n.name, mgmt.inside.get(n.container) ?? []]));
    for (const [node, lines] of w.inside) inside.set(node, [...(inside.get(node) ?? []), ...lines]);
    await applyBatch(w.park, { netnsPath: park });
    await applyBatch([...mgmt.host, ...w.host]);
    await mapLimit([...inside].filter(([, lines]) => lines.length), 4, ([node, lines]) => applyBatch(lines, { netnsPath: netns(node) }));
  }

  /**
   * `peersListed` (up, resume): every node was created before any started, so each running peer's hosts
   * file already names it. A redeployed node has a new ID, which running peers' files must learn.
   */
  private async startNodes(plan: LabPlan, nodes: readonly NodePlan[], opts: LabRunOptions, warnings: string[], peersListed = true): Promise<void> {
    await mapLimit(nodes, opts.concurrency ?? 4, async (n) => {
      opts.onEvent?.({ node: n.name, step: "start" });
      await this.ctx.containers.start(n.container, { peersListed });
      for (const line of n.exec) {
        opts.onEvent?.({ node: n.name, step: "exec", message: line });
        const r = await this.execCapture(n.container, ["sh", "-c", line]);
        if (r.code !== 0) {
          const w = `node ${n.name}: exec "${line}" exited ${r.code}${r.output ? `: ${r.output.trim().split("\n").pop()}` : ""}`;
          warnings.push(w);
          opts.onEvent?.({ node: n.name, step: "warning", message: w });
        }
      }
      opts.onEvent?.({ node: n.name, step: "ready" });
    });
  }

  private async execCapture(container: string, cmd: string[]): Promise<{ code: number; output: string }> {
    const sink = new PassThrough();
    let output = "";
    sink.on("data", (d: Buffer) => (output += d.toString()));
    const code = await this.ctx.containers.exec(container, { cmd, stdio: { stdout: sink, stderr: sink } });
    return { code, output };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Stop every node; their netns, links and management addresses stay for `resume`. */
  async down(name: string, opts: LabRunOptions = {}): Promise<LabView> {
    return withLauncher(async () => {
      const lab = this.store.get(name);
      const errors = await settleLimit(lab.plan.nodes, 8, async (n) => {
        opts.onEvent?.({ node: n.name, step: "stop" });
        await this.ctx.containers.stop(n.container);
      });
      this.throwFirst(errors, lab.plan.nodes, "stop");
      this.store.update(name, { state: "down" });
      return this.inspect(name);
    });
  }

  /** Start every node again, with its links; nodes whose netns is gone (a reboot) are rewired first. */
  async resume(name: string, opts: LabRunOptions = {}): Promise<LabView> {
    return withLauncher(async () => {
      const lab = this.store.get(name);
      const plan = lab.plan;
      const missing = new Set<string>();
      for (const n of plan.nodes) {
        const id = this.ctx.containers.store.resolve(n.container).id;
        if (!(await netnsExists(this.ctx.runroot, id))) missing.add(n.name);
      }
      if (missing.size) {
        if (!(await netnsExists(this.ctx.runroot, PARK(name)))) await createNetns(this.ctx.runroot, PARK(name));
        // After a reboot every netns is gone, bridges included.
        const bridgesGone = missing.size === plan.nodes.length;
        await this.wire(plan, plan.nodes.filter((n) => missing.has(n.name)), { createBridges: bridgesGone }, opts);
      }
      const warnings: string[] = [];
      const stopped: NodePlan[] = [];
      for (const n of plan.nodes) {
        const st = (await this.ctx.containers.inspect(n.container)).State.Status;
        if (st !== "running" && st !== "paused") stopped.push(n);
      }
      await this.startNodes(plan, stopped, opts, warnings);
      this.store.update(name, { state: "running" });
      return { ...(await this.inspect(name)), warnings };
    });
  }

  /** Recreate nodes (all, or those named) with fresh files and their links; other nodes are not touched. */
  async redeploy(name: string, nodeNames: string[] = [], opts: LabRunOptions = {}): Promise<LabView> {
    return withLauncher(async () => {
      const lab = this.store.get(name);
      const plan = lab.plan;
      for (const n of nodeNames) if (!plan.nodes.some((x) => x.name === n)) throw notFound(`lab ${name} has no node "${n}"`);
      const targets = nodeNames.length ? plan.nodes.filter((n) => nodeNames.includes(n.name)) : plan.nodes;
      // Keep dynamically given management addresses: the other nodes' /etc/hosts and the ssh config name them.
      const keep = new Map<string, { ipv4?: string; ipv6?: string }>();
      for (const n of targets) {
        const view = await this.nodeView(n);
        keep.set(n.name, { ...(view.mgmtIpv4 ? { ipv4: view.mgmtIpv4 } : {}), ...(view.mgmtIpv6 ? { ipv6: view.mgmtIpv6 } : {}) });
      }
      const park = netnsPath(this.ctx.runroot, PARK(name));
      if (!(await netnsExists(this.ctx.runroot, PARK(name)))) await createNetns(this.ctx.runroot, PARK(name));
      await mapLimit(targets, 4, async (n) => {
        opts.onEvent?.({ node: n.name, step: "remove" });
        // Its data interfaces wait in the parking netns: the far ends, in nodes not redeployed, keep their
        // addresses and state, which deleting the pairs would lose.
        const id = this.containerId(n.container);
        if (id && (await netnsExists(this.ctx.runroot, id))) await applyBatch(planStash(name, n, park), { netnsPath: netnsPath(this.ctx.runroot, id), tolerateMissing: true });
        await this.ctx.containers.remove(n.container, { force: true }).catch((e) => {
          if (!(e instanceof BerthError) || e.code !== "NOT_FOUND") throw e;
        });
        await rm(join(this.dir(name), "files", n.name), { recursive: true, force: true });
      });
      await mapLimit(targets, 8, async (n) => void (await this.createNode(plan, n, opts, keep.get(n.name))));
      const waiting = new Set(await linkNames(park));
      const stashed = new Set(targets.flatMap((n) => n.interfaces.filter((i) => waiting.has(stashName(name, n.name, i.name))).map((i) => `${n.name}/${i.name}`)));
      await this.wire(plan, targets, { createBridges: false, stashed }, opts);
      const warnings: string[] = [];
      // A lab that is down gets its hosts files afresh at resume, as every node starts.
      if (lab.state !== "down") await this.startNodes(plan, targets, opts, warnings, false);
      return { ...(await this.inspect(name)), warnings };
    });
  }

  /** Remove the lab: nodes, links, bridges, netns, management network, files and state. */
  async destroy(name: string, opts: LabRunOptions = {}): Promise<void> {
    return withLauncher(async () => {
      this.store.get(name);
      await this.teardown(name, opts);
    });
  }

  /** destroy and rollback: every step runs even when an earlier one fails; the row goes last. */
  private async teardown(name: string, opts: LabRunOptions = {}): Promise<void> {
    const lab = this.store.find(name);
    const problems: string[] = [];
    if (lab) await applyBatch(planUnwiring(lab.plan), { tolerateMissing: true }).catch((e) => problems.push((e as Error).message));
    const mine = await this.ctx.containers.list({ all: true, filters: { label: [`${LAB_LABEL}=${name}`] } });
    const errors = await settleLimit(mine, 8, async (c) => {
      opts.onEvent?.({ node: c.Labels?.[NODE_LABEL] ?? c.Names?.[0], step: "remove" });
      await this.ctx.containers.remove(c.Id, { force: true });
    });
    for (const e of errors.values()) problems.push((e as Error).message);
    await deleteNetns(this.ctx.runroot, PARK(name)).catch((e) => problems.push((e as Error).message));
    const mgmt = lab?.plan.mgmt.network ?? `lab-${name}`;
    await this.networks.remove(mgmt, { force: true }).catch((e) => {
      if (!(e instanceof BerthError) || e.code !== "NOT_FOUND") problems.push((e as Error).message);
    });
    await rm(this.dir(name), { recursive: true, force: true });
    if (problems.length) throw new BerthError("INTERNAL", `lab ${name}: not everything could be removed: ${problems.join("; ")}`);
    this.store.delete(name);
  }

  private throwFirst(errors: Map<number, unknown>, nodes: readonly NodePlan[], what: string): void {
    const [i, e] = [...errors][0] ?? [];
    if (i !== undefined) throw new BerthError(e instanceof BerthError ? e.code : "INTERNAL", `${what} ${nodes[i]!.name}: ${(e as Error).message}${errors.size > 1 ? ` (and ${errors.size - 1} more nodes)` : ""}`);
  }

  // ---------------------------------------------------------------- views

  list(): { name: string; state: LabState; nodes: number; manifest: string }[] {
    return this.store.list().map((l) => ({ name: l.name, state: l.state, nodes: l.plan.nodes.length, manifest: l.manifest }));
  }

  async inspect(name: string): Promise<LabView> {
    const lab: LabRecord = this.store.get(name);
    const nodes = await Promise.all(lab.plan.nodes.map((n) => this.nodeView(n)));
    return { name, manifest: lab.manifest, state: lab.state, mgmt: lab.plan.mgmt, nodes, sshConfig: this.sshConfigPath(name), warnings: [] };
  }

  private async nodeView(n: NodePlan): Promise<LabNodeView> {
    const interfaces = n.interfaces.map((i) => ({
      name: i.name,
      peer: i.peer.kind === "link" ? `${i.peer.node}:${i.peer.interface}` : i.peer.kind === "bridge" ? `bridge:${i.peer.bridge}` : null,
    }));
    const base = { name: n.name, container: n.container, model: n.model, image: n.image, interfaces };
    try {
      const c = await this.ctx.containers.inspect(n.container);
      const net = Object.values(c.NetworkSettings.Networks)[0];
      return {
        ...base,
        id: c.Id,
        state: c.State.Status,
        ...(net?.IPAddress ? { mgmtIpv4: net.IPAddress } : {}),
        ...(net?.GlobalIPv6Address ? { mgmtIpv6: net.GlobalIPv6Address } : {}),
      };
    } catch (e) {
      if (e instanceof BerthError && e.code === "NOT_FOUND") return { ...base, state: "missing" };
      throw e;
    }
  }

  async graph(name: string, format: "mermaid" | "dot"): Promise<string> {
    const { graph } = await import("../lab/graph.js");
    return graph(this.store.get(name).plan, format);
  }

  /** Run a command in a node (`berth lab exec LAB NODE -- CMD`). */
  async exec(name: string, node: string, cmd: string[], stdio: "inherit" | StreamSet, more: { tty?: boolean; interactive?: boolean } = {}): Promise<number> {
    return this.ctx.containers.exec(this.nodeOf(name, node).container, { cmd, stdio, ...more });
  }

  nodeOf(name: string, node: string): NodePlan {
    const n = this.store.get(name).plan.nodes.find((x) => x.name === node);
    if (!n) throw notFound(`lab ${name} has no node "${node}"`);
    return n;
  }

  sshConfigPath(name: string): string {
    return join(this.dir(name), "ssh_config");
  }

  /** An ssh_config with a Host entry per node (its name and its container name) at its management address. */
  private async writeSshConfig(lab: string, nodes: readonly LabNodeView[]): Promise<void> {
    const lines = [`# berth lab ${lab}: ssh -F ${this.sshConfigPath(lab)} NODE`];
    for (const n of nodes) {
      const addr = n.mgmtIpv4 ?? n.mgmtIpv6;
      if (!addr) continue;
      lines.push(`Host ${n.name} ${n.container}`, `  HostName ${addr}`, "  User root", "  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null", "  LogLevel ERROR", "");
    }
    await mkdir(this.dir(lab), { recursive: true, mode: 0o700 });
    await writeFile(this.sshConfigPath(lab), lines.join("\n") + "\n", { mode: 0o600 });
  }
}
