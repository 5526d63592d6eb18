import { existsSync, promises as fsp, readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { join } from "node:path";
import { mapLimit } from "../core/map-limit.js";
import { BerthError, conflict, invalid, notFound, precondition } from "../core/errors.js";
import type { Logger } from "../core/log.js";
import { mark } from "../core/trace.js";
import type { ContainerOptions, HostFacts, PortMapping, RuntimeSpec } from "../core/spec/types.js";
import { ContainerStore, type ContainerRecord } from "../container/store.js";
import { reconcile, restartDecision, statusText, type Observation } from "../container/status.js";
import { readCgroupStats } from "../runtime/cgroups.js";
import { spawnConmon } from "../runtime/conmon.js";
import { hostDevices, probeHostFacts } from "../runtime/host-facts.js";
import { containerPaths, exitsDir, runtimeStateDir, type ContainerPaths } from "../runtime/layout.js";
import { readLog } from "../runtime/logs.js";
import { OciRuntime } from "../runtime/oci-runtime.js";
import { selectRuntime } from "../runtime/probe.js";
import { readLayered } from "../runtime/layers.js";
import { addHostLines, prepareForUserns, rewriteHosts, writeEtcFiles } from "../runtime/container-files.js";
import { Networks } from "./networks.js";
import { netnsPath as netnsFile } from "../network/netns.js";
import { mountOverlay, readInRoot, unmount } from "../runtime/rootfs.js";
import { execInContainer } from "../runtime/exec.js";
import { attachStdin, resizeTerminal } from "../runtime/attach.js";
import { waitForExitFile, readExitFile } from "../runtime/exit-file.js";
import type { BerthConfig } from "./config.js";
import type {
  AttachOptions,
  ContainerInspect,
  ContainerSummary,
  ContainersApi,
  CreateRequest,
  ExecOptions,
  ListOptions,
  LogsOptions,
  StatsSample,
  TopResult,
  UpdateRequest,
} from "./container-types.js";
import type { Images } from "./images.js";
import { inspectDocument, matchesFilters } from "./container-views.js";
import type { Db } from "../store/db.js";
import type { ImageConfig } from "../core/oci.js";
import type { ImageRecord } from "../image/types.js";
import { VolumeStore } from "../volume/store.js";
import { withVolumeBinds } from "../volume/plan.js";

export interface ContainersContext {
  root: string;
  runroot: string;
  config: BerthConfig;
  configPath?: string;
  log: Logger;
  images: Images;
  db: Db;
  /** argv that runs the berth CLI (for conmon's exit command). */
  cliCommand: string[];
}

const spec = () => import("../core/spec/index.js");

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** Is `pid` alive and running `comm`? (pids are reused; a bare kill(0) is not enough). */
function processIs(pid: number, comm: string): boolean {
  if (!pid) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** True when `pid` is a live child of `parent` (its PPid in /proc). */
function childOf(pid: number, parent: number): boolean {
  if (!pid || !parent) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "PID (comm) STATE PPID ...": comm may hold spaces and parentheses, so split after the last ")".
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return state !== "Z" && Number(ppid) === parent;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The container lifecycle over conmon + runc/crun. No berth process stays behind per container. */
export class Containers implements ContainersApi {
  readonly store: ContainerStore;
  readonly networks: Networks;
  /** Named volumes and which containers use them (the volume subsystem's store, sharing the database). */
  readonly volumes: VolumeStore;
  private facts?: HostFacts;
  private readonly bootIdNow = bootId();

  constructor(private readonly ctx: ContainersContext) {
    this.store = new ContainerStore(ctx.db);
    this.networks = new Networks(ctx.db, {
      runroot: ctx.runroot,
      config: ctx.config,
      log: ctx.log,
      containers: this.store,
      running: async (id) => {
        const r = this.store.get(id);
        const o = r && (await this.observe(r));
        return o && (o.state === "running" || o.state === "paused") ? o : undefined;
      },
    });
    this.volumes = new VolumeStore(ctx.db, ctx.root);
    ctx.images.store.inUse = () => this.store.imageIds();
  }

  private hostFacts(): HostFacts {
    return (this.facts ??= probeHostFacts());
  }

  paths(id: string): ContainerPaths {
    return containerPaths(this.ctx.root, this.ctx.runroot, id);
  }

  /** The image's snapshot dirs, top layer first (overlayfs lowerdir order); "" for a missing one. */
  private lowerDirs(image: ImageRecord): string[] {
    return [...image.layers].reverse().map((l) => this.ctx.images.store.snapshots.get(l.chainId)?.dir ?? "");
  }

  private runtimeFor(rec: Pick<ContainerRecord, "runtime">): OciRuntime {
    return new OciRuntime(rec.runtime, runtimeStateDir(this.ctx.runroot, rec.runtime));
  }

  // ---------------------------------------------------------------- create / start

  async create(opts: ContainerOptions, req: CreateRequest = {}): Promise<{ id: string; warnings: string[] }> {
    const warnings: string[] = [];
    await this.validate(opts);
    const image = await this.imageFor(opts.image, req);
    const runtime = await selectRuntime(this.ctx.runroot, opts.runtime ?? this.ctx.config.runtime);
    mark("create: options valid, image and runtime found");
    // Volumes: -v/--mount ones, --volumes-from and the image's VOLUMEs, resolved once and stored concrete.
    const vol = await this.planVolumes(opts, image);
    const options = vol?.options ?? opts;
    const rec = this.store.insert({ imageId: image.id, imageName: opts.image, options, runtime, created: Date.now(), ...(opts.name !== undefined ? { name: opts.name } : {}) });
    const p = this.paths(rec.id);
    let createdVolumes: string[] = [];
    try {
      await fsp.mkdir(p.upper, { recursive: true, mode: 0o755 });
      await fsp.mkdir(p.work, { recursive: true, mode: 0o700 });
      await fsp.mkdir(p.merged, { recursive: true, mode: 0o755 });
      if (vol) {
        createdVolumes = this.volumes.attach(rec.id, vol.uses);
        await vol.provision(this.lowerDirs(image), p);
      }
      await this.networks.join(rec);
    } catch (e) {
      this.store.delete(rec.id);
      await fsp.rm(p.dir, { recursive: true, force: true });
      await this.volumes.removeUnused(createdVolumes).catch(() => undefined);
      throw e;
    }
    return { id: rec.id, warnings };
  }

  /**
   * The volume side of a create, before the row exists (nothing to undo if it fails): undefined when the
   * container has no mounts, --volumes-from, files or image VOLUMEs (the common `run` pays nothing).
   */
  private async planVolumes(opts: ContainerOptions, image: ImageRecord) {
    const config = await this.ctx.images.store.readStoredConfig(image.id as never).catch(() => undefined);
    const imageVolumes = Object.keys(config?.config?.Volumes ?? {});
    if (!opts.mounts?.length && !opts.volumesFrom?.length && !opts.files?.length && !imageVolumes.length) return undefined;
    const { planContainerVolumes } = await import("../volume/container.js");
    return planContainerVolumes(opts, imageVolumes, { containers: this.store, volumes: this.volumes });
  }

  /**
   * Run `fn` with a path to the container's root filesystem as its processes see it: /proc/<pid>/root of a
   * running (or paused) container, with its mounts; for a stopped one, a private overlay view of its upper
   * layer over the image (no volumes), which nothing on the host can see and no crash can leak.
   */
  async withRootfs<T>(ref: string, fn: (root: string, info: { id: string; name: string; running: boolean }) => Promise<T> | T): Promise<T> {
    const rec = await this.observe(this.store.resolve(ref));
    const info = { id: rec.id, name: rec.name };
    if ((rec.state === "running" || rec.state === "paused") && rec.pid) return fn(`/proc/${rec.pid}/root`, { ...info, running: true });
    const image = this.ctx.images.store.byId(rec.imageId);
    const lowerDirs = image ? this.lowerDirs(image) : [];
    if (!image || lowerDirs.some((d) => !d)) throw precondition(`the image of container ${rec.name} is missing; its files cannot be reached`);
    const p = this.paths(rec.id);
    const { withPrivateOverlay } = await import("../volume/private-view.js");
    return withPrivateOverlay({ lowerDirs, upper: p.upper, work: p.work, mountpoint: p.merged }, (root) => fn(root, { ...info, running: false }));
  }

  /** Check the options before anything exists: a dry run of spec generation with placeholder facts. */
  private async validate(o: ContainerOptions): Promise<void> {
    const { validateOptions } = await spec();
    const sec = o.securityOpt?.find((s) => /^seccomp[=:]/.test(s) && !/unconfined$/.test(s));
    if (sec && !existsSync(sec.slice("seccomp=".length))) throw invalid(`--security-opt ${sec}: no such file`);
    validateOptions(withVolumeBinds(o, (n) => `/volumes/${n}`), this.hostFacts());
  }

  private async imageFor(name: string, req: CreateRequest) {
    const policy = req.pull ?? "missing";
    if (policy !== "always") {
      try {
        return this.ctx.images.get(name);
      } catch (e) {
        if (!(e instanceof BerthError) || e.code !== "NOT_FOUND" || policy === "never") throw e;
      }
    }
    return this.ctx.images.pull(name, { ...req, ...(req.onPullEvent ? { onEvent: req.onPullEvent } : {}) });
  }

  /**
   * `peersListed`: the caller knows every peer's /etc/hosts already names this container (a lab creates all
   * its nodes before it starts any), so the peers' files are not re-checked: for a 200-node lab that is
   * 20 000 file reads saved.
   */
  async start(ref: string, opts: { peersListed?: boolean } = {}): Promise<void> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state === "running") return;
    if (rec.state === "paused") throw conflict(`container ${rec.name} is paused; unpause it instead`);
    await this.startRecord(rec, { restartCount: rec.restartCount, ...opts });
  }

  private async startRecord(rec: ContainerRecord, o: { restartCount: number; peersListed?: boolean }): Promise<void> {
    const p = this.paths(rec.id);
    const runtime = this.runtimeFor(rec);
    // Leftovers of the previous run (a crash, a reboot) go first.
    await this.teardown(rec, p);
    await fsp.mkdir(p.persist, { recursive: true, mode: 0o700 });
    await fsp.mkdir(exitsDir(this.ctx.runroot), { recursive: true, mode: 0o700 });
    await fsp.rm(p.exitFile, { force: true });
    const image = this.ctx.images.store.byId(rec.imageId) ?? (() => {
      throw notFound(`the image of container ${rec.name} (${rec.imageId}) was removed`);
    })();
    const lowerDirs = this.lowerDirs(image);
    if (lowerDirs.some((d) => !d)) throw precondition(`the image of container ${rec.name} is missing layers; pull it again`);
    let spec: RuntimeSpec;
    try {
      const overlay = `lowerdir=${lowerDirs.join(":")},upperdir=${p.upper},workdir=${p.work}`;
      // runc mounts the overlay itself, as the first mount in the container's own mount namespace: no
      // host mount to make, to unmount, or to leak if anything dies. Other runtimes get a host mount.
      // In a user namespace the overlay must be mounted by the host's root, and the container's root
      // must be able to reach it.
      const userns = !!(rec.options.uidMaps?.length || rec.options.gidMaps?.length);
      if (userns) await prepareForUserns(this.ctx.root, rec.options, p);
      const inNamespace = runtime.name === "runc" && overlay.length < 3900 && !userns;
      if (!inNamespace) await mountOverlay({ lowerDirs, upper: p.upper, work: p.work, merged: p.merged });
      const netnsPath = await this.networkFor(rec);
      mark("start: network namespace ready");
      spec = await this.buildSpec(rec, p, image.id, inNamespace ? [p.upper, ...lowerDirs] : undefined, netnsPath);
      if (inNamespace) spec.mounts.unshift({ destination: "/", type: "overlay", source: "overlay", options: [overlay] });
      await fsp.writeFile(p.config, JSON.stringify(spec));
      mark("start: bundle written");
    } catch (e) {
      await this.teardown(rec, p);
      throw e;
    }
    // Mark it running before the process can exit: the exit command only records exits of running containers.
    const startedAt = Date.now();
    // From the state the caller saw only: a stop or rm that came in meanwhile (during a restart back-off) wins.
    if (!this.store.transition(rec.id, [rec.state], { state: "running", pid: 0, conmonPid: 0, bootId: this.bootIdNow, exitCode: 0, oomKilled: false, error: "", startedAt, finishedAt: 0, stoppedByUser: false, restartCount: o.restartCount, monitorPid: process.pid })) {
      await this.teardown(rec, p);
      throw conflict(`container ${rec.name} was stopped or removed while it was starting`);
    }
    try {
      const { pid } = await spawnConmon({
        id: rec.id,
        name: rec.name,
        paths: p,
        exitsDir: exitsDir(this.ctx.runroot),
        runtimePath: runtime.path,
        runtimeArgs: runtime.globalArgs,
        tty: !!rec.options.tty,
        stdin: !!rec.options.interactive,
        exitCommand: this.exitCommand(rec.id, startedAt),
      });
      mark("start: conmon reports the container created");
      const conmonPid = Number((await fsp.readFile(p.conmonPidFile, "utf8").catch(() => "0")).trim());
      this.store.update(rec.id, { pid, conmonPid, monitorPid: 0 });
      await runtime.start(rec.id);
      mark("start: runtime started it");
      await this.networksChanged(rec, !o.peersListed);
    } catch (e) {
      this.store.update(rec.id, { state: rec.state === "created" ? "created" : "exited", pid: 0, conmonPid: 0, monitorPid: 0, error: (e as Error).message, exitCode: (e as { exitCode?: number }).exitCode ?? 125, startedAt: rec.startedAt });
      await runtime.delete(rec.id).catch(() => undefined);
      await this.teardown(rec, p);
      throw e;
    }
  }

  /**
   * The network namespace the runtime joins: the container's own named netns with its interfaces (bridge
   * and macvlan networks, and published ports), another container's (container:NAME), a given one
   * (ns:/path), or none: host mode shares the host's and "none" lets the runtime make an empty one.
   */
  private async networkFor(rec: ContainerRecord): Promise<string | undefined> {
    const mode = rec.options.network ?? "";
    if (mode.startsWith("ns:")) {
      const path = mode.slice(3);
      if (!existsSync(path)) throw notFound(`--network ${mode}: no such network namespace`);
      return path;
    }
    if (mode.startsWith("container:")) {
      const other = await this.observe(this.store.resolve(mode.slice("container:".length)));
      if (other.state !== "running" && other.state !== "paused") throw conflict(`--network ${mode}: container ${other.name} is not running`);
      const own = netnsFile(this.ctx.runroot, other.id);
      return existsSync(own) ? own : `/proc/${other.pid}/ns/net`;
    }
    const path = await this.networks.setUp(rec);
    if (!path) return undefined;
    try {
      const wanted = await this.portsWanted(rec);
      if (wanted.length) await this.networks.bindPorts(rec, wanted);
    } catch (e) {
      await this.networkDown(rec);
      throw e;
    }
    return path;
  }

  /**
   * Make keepNetns containers' netns now, before they start, with their network interfaces: a lab wires its
   * data links into them first, so each node's OS finds them at boot. The netns are made here; the
   * interfaces come back as ip-batch lines for the caller to apply with its own (networks.planSetUpMany):
   * the host side of all, and the lines inside each, by container ref.
   */
  async planNetnsMany(refs: readonly string[]): Promise<{ host: string[]; inside: Map<string, string[]> }> {
    const recs = refs.map((r) => this.store.resolve(r));
    for (const rec of recs) if (!rec.options.keepNetns) throw precondition(`container ${rec.name} does not keep its network namespace`);
    const plan = await this.networks.planSetUpMany(recs);
    const inside = new Map<string, string[]>();
    recs.forEach((rec, i) => inside.set(refs[i]!, plan.inside.get(rec.id) ?? []));
    return { host: plan.host, inside };
  }

  /** -p mappings, plus every EXPOSEd port of the image on a free host port with -P. */
  private async portsWanted(rec: ContainerRecord): Promise<PortMapping[]> {
    const out = [...(rec.options.publish ?? [])];
    if (rec.options.publishAll) {
      const cfg = await this.ctx.images.store.readStoredConfig(rec.imageId as never);
      for (const k of Object.keys(cfg.config?.ExposedPorts ?? {})) {
        const [port, proto = "tcp"] = k.split("/");
        const containerPort = Number(port);
        if (!out.some((m) => m.containerPort === containerPort && m.protocol === proto)) out.push({ hostPort: 0, containerPort, protocol: proto === "udp" ? "udp" : "tcp" });
      }
    }
    return out;
  }

  /** After a start or a stop: published ports in the firewall, and the hosts files of the network's members. */
  private async networksChanged(rec: ContainerRecord, refreshPeers = true): Promise<void> {
    if (this.networks.boundPorts(rec.id).length || rec.options.publish?.length || rec.options.publishAll) await this.networks.syncFirewall();
    if (refreshPeers) await this.refreshHosts(rec);
  }

  /** Rewrite (in place: they are bind-mounted) the /etc/hosts of the running containers sharing a network. */
  private async refreshHosts(rec: ContainerRecord): Promise<void> {
    const peers = new Set<string>();
    for (const a of this.networks.store.attachments(rec.id)) for (const m of this.networks.store.members(a.networkId)) if (m.containerId !== rec.id) peers.add(m.containerId);
    // Peers on the same networks share their entries: computed once per set of networks, not per peer (a
    // lab's 200 nodes on one management network would otherwise cost 200 x 200 lookups per start).
    const entries = new Map<string, string[]>();
    const running = [...peers].map((id) => this.store.get(id)).filter((p): p is ContainerRecord => !!p && (p.state === "running" || p.state === "paused"));
    await mapLimit(running, 8, async (peer) => {
      const key = this.networks.store.attachments(peer.id).map((a) => a.networkId).sort().join(",");
      if (!entries.has(key)) entries.set(key, this.networks.hostsEntries(peer));
      await rewriteHosts(this.paths(peer.id), peer.options.hostname ?? peer.id.slice(0, 12), [...entries.get(key)!, ...addHostLines(peer.options.addHosts)]).catch(() => undefined);
    });
  }

  /** `removing`: the container goes, so a kept netns (keepNetns) goes too. */
  private async networkDown(rec: ContainerRecord, removing = false): Promise<void> {
    const hadPorts = this.networks.boundPorts(rec.id).length > 0;
    this.networks.releasePorts(rec.id);
    if (removing || !rec.options.keepNetns) await this.networks.tearDown(rec).catch((e) => this.ctx.log.debug(`network teardown ${rec.id}: ${(e as Error).message}`));
    if (hadPorts) await this.networks.syncFirewall().catch((e) => this.ctx.log.warn(`firewall: ${(e as Error).message}`));
  }

  /**
   * conmon's exit command. While a foreground `run`/`attach` holds the container (its pid in the attach
   * lock), that process records the exit itself and the exit command is a shell that just exits: a second
   * Node process competing for the CPU at every foreground exit would cost more than the whole cleanup.
   */
  private exitCommand(id: string, run: number): string[] {
    const c = this.ctx;
    const cli = [...c.cliCommand, "--root", c.root, "--runroot", c.runroot, ...(c.configPath ? ["--config", c.configPath] : []), "container", "cleanup", "--run", String(run), id];
    const script = 'p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && exit 0; shift; exec "$@"';
    return ["/bin/sh", "-c", script, "berth-exit", this.paths(id).attachLock, ...cli];
  }

  /** `layers` (top first) when the root is not mounted on the host yet: files are read from the layers. */
  private async buildSpec(rec: ContainerRecord, p: ContainerPaths, imageId: string, layers?: string[], netnsPath?: string): Promise<RuntimeSpec> {
    const { generateSpec, resolveUser } = await spec();
    const o = rec.options;
    const config: ImageConfig = await this.ctx.images.store.readStoredConfig(imageId as never);
    const img = config.config ?? {};
    const facts = o.privileged ? { ...this.hostFacts(), devices: hostDevices() } : this.hostFacts();
    const read = (f: string) => (layers ? readLayered(layers, f) : readInRoot(p.merged, f));
    const user = resolveUser(o.user ?? img.User ?? undefined, await read("/etc/passwd"), await read("/etc/group"), o.groupAdd);
    const hostname = o.hostname ?? rec.id.slice(0, 12);
    await writeEtcFiles(p, hostname, {
      hosts: [...this.networks.hostsEntries(rec), ...addHostLines(o.addHosts)],
      ...(o.dns?.length ? { dns: o.dns } : {}),
      ...(o.dnsSearch?.length ? { dnsSearch: o.dnsSearch } : {}),
      ...(o.dnsOptions?.length ? { dnsOptions: o.dnsOptions } : {}),
    });
    let seccompProfile: unknown;
    const sec = o.securityOpt?.find((s) => /^seccomp[=:]/.test(s));
    if (sec && !/^seccomp[=:]unconfined$/.test(sec)) {
      const file = sec.slice("seccomp=".length);
      try {
        seccompProfile = JSON.parse(await fsp.readFile(file, "utf8"));
      } catch (e) {
        throw invalid(`--security-opt ${sec}: cannot read the profile: ${(e as Error).message}`);
      }
    }
    const noHostNet = o.network !== "host";
    return generateSpec({
      id: rec.id,
      rootfs: p.merged,
      image: img,
      options: withVolumeBinds(o, (n) => this.volumes.mountpoint(n)),
      user,
      host: facts,
      cgroupsPath: this.ctx.config.cgroupParent ? `${this.ctx.config.cgroupParent.replace(/\/$/, "")}/${rec.id}` : `berth/${rec.id}`,
      ...(seccompProfile !== undefined ? { seccompProfile } : {}),
      hostEnv: process.env,
      ...(netnsPath ? { netnsPath } : {}),
      extraMounts: [
        { destination: "/etc/hostname", type: "bind", source: p.hostname, options: ["rbind", "rprivate", ...(o.readOnly ? ["ro"] : [])] },
        ...(noHostNet
          ? [
              { destination: "/etc/hosts", type: "bind", source: p.hosts, options: ["rbind", "rprivate", ...(o.readOnly ? ["ro"] : [])] },
              { destination: "/etc/resolv.conf", type: "bind", source: p.resolvConf, options: ["rbind", "rprivate", ...(o.readOnly ? ["ro"] : [])] },
            ]
          : []),
      ],
    });
  }

  // ---------------------------------------------------------------- exit handling

  /**
   * conmon's exit command (and the inline end of stop/rm): record the exit once, tear down the mount and
   * the runtime's state, then remove (--rm) or restart (policy) the container.
   */
  async cleanup(id: string, how: { attached?: boolean; run?: number } = {}): Promise<void> {
    const rec = this.store.get(id);
    if (!rec) return;
    // A late exit command of an earlier run (the container was stopped and started again meanwhile)
    // must not touch the current run.
    if (how.run !== undefined && how.run !== rec.startedAt) return;
    const p = this.paths(id);
    const exit = await readExitFile(p.exitFile);
    const oom = existsSync(join(p.persist, "oom"));
    const finishedAt = exit?.at ?? Date.now();
    const exitCode = exit?.code ?? 255;
    // Straight to "restarting" when the policy says so: a stop must never see "exited" in between (it would
    // take the container as stopped and return while this process restarts it).
    const d = rec.options.autoRemove ? { restart: false, delayMs: 0 } : restartDecision(rec.options.restart, rec, exitCode, finishedAt);
    if (!this.store.transition(id, ["running", "paused"], { state: d.restart ? "restarting" : "exited", exitCode, oomKilled: oom, finishedAt, pid: 0, conmonPid: 0, ...(d.restart ? { monitorPid: process.pid } : {}) })) return;
    if (rec.options.autoRemove && (how.attached || !pidAlive(await this.attachHolder(p)))) {
      await this.removeRecord(rec);
      return;
    }
    await this.teardown(rec, p);
    const after = this.store.get(id);
    if (!after) return;
    // A foreground `run --rm` holds the attach lock: it removes the container after reading the exit.
    if (after.options.autoRemove) return;
    if (!d.restart) return;
    await sleep(d.delayMs);
    const now = this.store.get(id);
    if (!now || now.state !== "restarting" || now.stoppedByUser) return;
    try {
      await this.startRecord(now, { restartCount: now.restartCount + 1 });
    } catch (e) {
      this.ctx.log.warn(`restart of ${now.name} failed: ${(e as Error).message}`);
    }
  }

  private async attachHolder(p: ContainerPaths): Promise<number> {
    return Number((await fsp.readFile(p.attachLock, "utf8").catch(() => "0")).trim()) || 0;
  }

  /** Undo what start did: runtime state, the rootfs mount, the bundle. Idempotent. */
  private async teardown(rec: ContainerRecord, p: ContainerPaths): Promise<void> {
    await this.runtimeFor(rec).delete(rec.id).catch((e) => this.ctx.log.debug(`runtime delete ${rec.id}: ${(e as Error).message}`));
    await unmount(p.merged);
    await this.networkDown(rec);
    // Keep the attach lock of a foreground run; the rest of the bundle is per run.
    for (const f of [p.config, p.pidFile, p.conmonPidFile, p.attach, p.ctl, p.winsz]) await fsp.rm(f, { force: true });
    await fsp.rm(p.persist, { recursive: true, force: true });
  }

  /** Remove the container; with `volumes` (rm -v) or --rm, also its anonymous volumes nobody else uses. */
  private async removeRecord(rec: ContainerRecord, opts: { volumes?: boolean } = {}): Promise<void> {
    const anonymous = opts.volumes || rec.options.autoRemove ? this.volumes.usesOf(rec.id).filter((u) => u.anonymous).map((u) => u.name) : [];
    const p = this.paths(rec.id);
    const rm = (f: string) => fsp.rm(f, { recursive: true, force: true });
    // The runtime's delete (a whole process) overlaps removing the files, unless a host mount of the root
    // has to go first.
    await unmount(p.merged);
    // A foreground `run` of this container in another process still has to read the exit code.
    const holder = await this.attachHolder(p);
    const keepExit = holder !== 0 && holder !== process.pid && pidAlive(holder);
    await Promise.all([
      this.runtimeFor(rec).delete(rec.id).catch((e) => this.ctx.log.debug(`runtime delete ${rec.id}: ${(e as Error).message}`)),
      this.networkDown(rec, true),
      rm(p.bundle),
      keepExit ? undefined : rm(p.exitFile),
      rm(p.dir),
    ]);
    this.store.delete(rec.id);
    if (anonymous.length) await this.volumes.removeUnused(anonymous);
  }

  // ---------------------------------------------------------------- observation

  /** Bring the row in line with what is true (conmon, exit file, runtime), recording stale exits. */
  async observe(rec: ContainerRecord): Promise<ContainerRecord> {
    if (rec.state === "created" || rec.state === "exited") return rec;
    const p = this.paths(rec.id);
    const exit = await readExitFile(p.exitFile);
    const o: Observation = {
      conmonAlive: processIs(rec.conmonPid, "conmon"),
      monitorAlive: pidAlive(rec.monitorPid),
      rebooted: !!rec.bootId && rec.bootId !== this.bootIdNow,
      oom: existsSync(join(p.persist, "oom")),
      ...(exit ? { exitCode: exit.code, exitedAt: exit.at } : {}),
    };
    // conmon's exit command applies --rm and the restart policy, but only if it is the one that records the
    // exit: an observer (ps, inspect) that sees a fresh exit file first must leave it to it, or they are lost.
    if (exit && !o.rebooted && (rec.state === "running" || rec.state === "paused") && Date.now() - exit.at < 30_000 && (rec.options.autoRemove || restartDecision(rec.options.restart, rec, exit.code, exit.at).restart)) return rec;
    const starting = !rec.conmonPid && o.monitorAlive;
    if (!o.conmonAlive && !starting && !exit && !o.rebooted && rec.state !== "restarting") o.runtime = (await this.runtimeFor(rec).state(rec.id).catch(() => null))?.status ?? null;
    const v = reconcile(rec, o, Date.now());
    if (v.exited) {
      if (this.store.transition(rec.id, [rec.state], { state: "exited", exitCode: v.exited.exitCode, finishedAt: v.exited.finishedAt, oomKilled: v.exited.oomKilled, error: v.exited.error, pid: 0, conmonPid: 0 })) {
        await this.teardown(rec, p).catch(() => undefined);
      }
      return this.store.get(rec.id) ?? { ...rec, state: "exited" };
    }
    if (v.state !== rec.state) this.store.update(rec.id, { state: v.state });
    return { ...rec, state: v.state };
  }

  // ---------------------------------------------------------------- attach / wait / logs

  async attach(ref: string, opts: AttachOptions): Promise<number> {
    const rec = this.store.resolve(ref);
    const p = this.paths(rec.id);
    await fsp.mkdir(p.bundle, { recursive: true, mode: 0o700 });
    await fsp.writeFile(p.attachLock, String(process.pid));
    const ac = new AbortController();
    const abort = () => ac.abort();
    opts.signal?.addEventListener("abort", abort, { once: true });
    try {
      const exited = this.waitExit(rec.id, p, ac.signal);
      exited.catch(() => undefined); // an abort (start failed) is reported by the caller, not as unhandled
      const stdin = opts.stdin && rec.options.interactive ? attachStdin(p, opts.stdin, ac.signal, exited) : undefined;
      if (opts.tty && rec.options.tty) void resizeTerminal(p, opts.tty, ac.signal);
      await readLog(p.log, { stdout: opts.stdout, stderr: opts.stderr }, { done: exited, signal: ac.signal });
      const code = await exited;
      mark("attach: exit seen, log drained");
      ac.abort();
      await stdin?.catch(() => undefined);
      return code;
    } finally {
      opts.signal?.removeEventListener("abort", abort);
      // The exit command stands aside while we hold the lock, so we record the exit and remove (--rm) or
      // restart; the lock goes only after that, or a late exit command would do it a second time.
      if (existsSync(p.exitFile)) await this.cleanup(rec.id, { attached: true });
      mark("attach: exit recorded, cleaned up");
      await fsp.rm(p.attachLock, { force: true });
      // Removed meanwhile by another process (stop or rm of a --rm container), which left us the exit file.
      if (!this.store.get(rec.id)) await fsp.rm(p.exitFile, { force: true });
    }
  }

  /** The exit code of the current run, from the exit file (or the row, if another process already moved on). */
  private async waitExit(id: string, p: ContainerPaths, signal?: AbortSignal): Promise<number> {
    const code = await waitForExitFile(p.exitFile, signal, async () => {
      const rec = this.store.get(id);
      if (!rec) return 0;
      const o = await this.observe(rec);
      return o.state === "exited" ? o.exitCode : undefined;
    });
    return code;
  }

  async wait(ref: string, opts: { condition?: "not-running" | "next-exit" | "removed"; signal?: AbortSignal } = {}): Promise<number> {
    const rec = this.store.resolve(ref);
    const cond = opts.condition ?? "not-running";
    let last = rec.exitCode;
    let sawRunning = false;
    for (;;) {
      if (opts.signal?.aborted) throw invalid("wait was interrupted");
      const cur = this.store.get(rec.id);
      if (!cur) return last;
      const o = await this.observe(cur);
      last = o.exitCode;
      if (o.state === "running" || o.state === "paused" || o.state === "restarting") sawRunning = true;
      else if (cond === "not-running" && o.state !== "created") return o.exitCode;
      else if (cond === "not-running" && o.state === "created") return o.exitCode;
      else if (cond === "next-exit" && sawRunning) return o.exitCode;
      if (o.state === "running") {
        await waitForExitFile(this.paths(rec.id).exitFile, opts.signal, undefined, 500).catch(() => undefined);
      } else await sleep(100);
    }
  }

  async logs(ref: string, opts: LogsOptions): Promise<void> {
    const rec = this.store.resolve(ref);
    const p = this.paths(rec.id);
    const ro = {
      stdout: opts.stdout,
      stderr: opts.stderr,
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.until !== undefined ? { until: opts.until } : {}),
      ...(opts.timestamps ? { timestamps: true } : {}),
    };
    if (!opts.follow) return readLog(p.log, ro);
    const done = this.wait(rec.id, { condition: "not-running", ...(opts.signal ? { signal: opts.signal } : {}) }).catch(() => 0);
    await readLog(p.log, ro, { done, ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  // ---------------------------------------------------------------- signals

  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state === "restarting") {
      this.store.update(rec.id, { stoppedByUser: true, state: "exited" });
      return;
    }
    if (rec.state !== "running" && rec.state !== "paused") return;
    this.store.update(rec.id, { stoppedByUser: true });
    const { parseSignal } = await spec();
    const p = this.paths(rec.id);
    await this.holdExit(p);
    const runtime = this.runtimeFor(rec);
    const image = await this.ctx.images.store.readStoredConfig(rec.imageId as never).catch(() => undefined);
    const sig = parseSignal(opts.signal ?? rec.options.stopSignal ?? image?.config?.StopSignal ?? "SIGTERM");
    const timeout = opts.timeout ?? rec.options.stopTimeout ?? 10;
    if (timeout > 0) {
      if (!this.signalInit(rec, sig)) await runtime.kill(rec.id, sig).catch(() => undefined);
      if (rec.state === "paused") await runtime.resume(rec.id).catch(() => undefined);
      const gone = await waitForExitFile(p.exitFile, undefined, this.unmonitoredExit(rec), timeout * 1000).then(
        () => true,
        () => false,
      );
      if (!gone) await this.killHard(rec, p);
    } else await this.killHard(rec, p);
    try {
      await this.cleanup(rec.id, { attached: true });
    } finally {
      await fsp.rm(p.attachLock, { force: true });
    }
  }

  /**
   * This process will record the exit itself (stop, rm -f): the exit command sees the lock and stands
   * aside instead of starting a second Node process that would compete for the CPU.
   */
  private async holdExit(p: ContainerPaths): Promise<void> {
    await fsp.writeFile(p.attachLock, String(process.pid)).catch(() => undefined);
  }

  /**
   * Signal a running container's init from here, as `runtime kill ID SIG` would, without a runtime process
   * (a lab's down or destroy signals hundreds). Only to conmon's own live child, so a PID recycled since
   * the container exited is never hit. False when it was not sent: the caller asks the runtime.
   */
  private signalInit(rec: ContainerRecord, sig: NodeJS.Signals | number): boolean {
    if (rec.state !== "running" || !childOf(rec.pid, rec.conmonPid)) return false;
    try {
      process.kill(rec.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  private async killHard(rec: ContainerRecord, p: ContainerPaths): Promise<void> {
    const runtime = this.runtimeFor(rec);
    // A container with its own PID namespace dies with its init, so SIGKILL to the init does what
    // `runtime kill --all` does. A frozen cgroup holds even SIGKILL until thawed: paused containers go
    // through the runtime.
    const direct = rec.options.pid !== "host" && this.signalInit(rec, "SIGKILL");
    if (!direct) {
      await runtime.kill(rec.id, 9, true).catch(() => undefined);
      if (rec.state === "paused") await runtime.resume(rec.id).catch(() => undefined);
    }
    await waitForExitFile(p.exitFile, undefined, this.unmonitoredExit(rec), 10_000).catch(() => undefined);
  }

  /** When conmon was killed no exit file will come: the runtime's state says whether the process is gone. */
  private unmonitoredExit(rec: ContainerRecord): () => Promise<number | undefined> {
    return async () => {
      // Re-read: a start in progress (no conmon yet) is not an exit.
      const cur = this.store.get(rec.id);
      if (!cur?.conmonPid || processIs(cur.conmonPid, "conmon")) return undefined;
      const st = await this.runtimeFor(cur).state(cur.id).catch(() => null);
      return !st || st.status === "stopped" ? 255 : undefined;
    };
  }

  async kill(ref: string, signal = "SIGKILL"): Promise<void> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state !== "running" && rec.state !== "paused") throw conflict(`container ${rec.name} is not running`);
    const { parseSignal } = await spec();
    const sig = parseSignal(signal);
    const image = await this.ctx.images.store.readStoredConfig(rec.imageId as never).catch(() => undefined);
    // Docker: killing with SIGKILL or the stop signal counts as a manual stop for the restart policy.
    if (sig === 9 || sig === parseSignal(rec.options.stopSignal ?? image?.config?.StopSignal ?? "SIGTERM")) this.store.update(rec.id, { stoppedByUser: true });
    await this.runtimeFor(rec).kill(rec.id, sig, sig === 9);
  }

  async restart(ref: string, opts: { timeout?: number } = {}): Promise<void> {
    const rec = this.store.resolve(ref);
    await this.stop(rec.id, opts);
    const now = await this.observe(this.store.resolve(rec.id));
    await this.startRecord(now, { restartCount: now.restartCount });
  }

  async pause(ref: string): Promise<void> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state !== "running") throw conflict(`container ${rec.name} is not running`);
    await this.runtimeFor(rec).pause(rec.id);
    this.store.transition(rec.id, ["running"], { state: "paused" });
  }

  async unpause(ref: string): Promise<void> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state !== "paused") throw conflict(`container ${rec.name} is not paused`);
    await this.runtimeFor(rec).resume(rec.id);
    this.store.transition(rec.id, ["paused"], { state: "running" });
  }

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<string> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state === "running" || rec.state === "paused") {
      if (!opts.force) throw conflict(`cannot remove container ${rec.name}: it is ${rec.state}; stop it first or use --force`);
      this.store.update(rec.id, { stoppedByUser: true });
      await this.holdExit(this.paths(rec.id));
      await this.killHard(rec, this.paths(rec.id));
    }
    if (rec.state === "restarting") this.store.update(rec.id, { stoppedByUser: true });
    await this.removeRecord(rec, { volumes: !!opts.volumes });
    return rec.id;
  }

  async prune(): Promise<{ removed: string[] }> {
    const removed: string[] = [];
    for (const r of this.store.list()) {
      const o = await this.observe(r);
      if (o.state === "exited" || o.state === "created") {
        await this.removeRecord(o);
        removed.push(o.id);
      }
    }
    return { removed };
  }

  // ---------------------------------------------------------------- queries

  async list(opts: ListOptions = {}): Promise<ContainerSummary[]> {
    const now = Date.now();
    let recs = await Promise.all(this.store.list().map((r) => this.observe(r)));
    if (!opts.all && !opts.last) recs = recs.filter((r) => r.state === "running" || r.state === "paused" || r.state === "restarting");
    recs = recs.filter((r) => matchesFilters(r, opts.filters ?? {}, this.ctx.images));
    if (opts.last) recs = recs.slice(0, opts.last);
    const { mergeProcessArgs } = await spec();
    const out: ContainerSummary[] = [];
    for (const r of recs) {
      const cfg = await this.ctx.images.store.readStoredConfig(r.imageId as never).catch(() => undefined);
      let command = "";
      try {
        const pa = mergeProcessArgs(cfg?.config ?? {}, r.options);
        command = [pa.path, ...pa.args].join(" ");
      } catch {
        /* no command: shown empty */
      }
      out.push({
        Id: r.id,
        Names: [r.name],
        Image: r.imageName,
        ImageID: r.imageId,
        Command: command,
        Created: Math.floor(r.created / 1000),
        State: r.state,
        Status: statusText(r.state, r, now),
        ExitCode: r.exitCode,
        Labels: r.options.labels ?? {},
        Pid: r.state === "running" || r.state === "paused" ? r.pid : 0,
      });
    }
    return out;
  }

  async inspect(ref: string): Promise<ContainerInspect> {
    const r = await this.observe(this.store.resolve(ref));
    const p = this.paths(r.id);
    const o = r.options;
    const cfg = await this.ctx.images.store.readStoredConfig(r.imageId as never).catch(() => undefined);
    const img = cfg?.config ?? {};
    const { mergeProcessArgs } = await spec();
    let pa = { path: "", args: [] as string[] };
    try {
      pa = mergeProcessArgs(img, o);
    } catch {
      /* shown empty */
    }
    const image = this.ctx.images.store.byId(r.imageId);
    const lower = image ? this.lowerDirs(image).join(":") : "";
    return { ...inspectDocument(r, p, img, lower, pa), NetworkSettings: this.networkSettings(r) };
  }

  /** Docker's NetworkSettings: addresses per network, published ports (while running), the netns. */
  private networkSettings(r: ContainerRecord): ContainerInspect["NetworkSettings"] {
    const networks: ContainerInspect["NetworkSettings"]["Networks"] = {};
    for (const a of this.networks.store.attachments(r.id)) {
      const v4 = a.addresses.find((x) => x.family === 4);
      const v6 = a.addresses.find((x) => x.family === 6);
      networks[a.networkName] = {
        NetworkID: a.networkId,
        IPAddress: v4?.address ?? "",
        IPPrefixLen: v4?.prefix ?? 0,
        GlobalIPv6Address: v6?.address ?? "",
        GlobalIPv6PrefixLen: v6?.prefix ?? 0,
        Gateway: v4?.gateway ?? "",
        IPv6Gateway: v6?.gateway ?? "",
        MacAddress: a.mac,
        Aliases: a.aliases,
        Interface: a.interface,
      };
    }
    const ports: ContainerInspect["NetworkSettings"]["Ports"] = {};
    for (const m of r.options.publish ?? []) ports[`${m.containerPort}/${m.protocol}`] = null;
    for (const b of this.networks.boundPorts(r.id)) (ports[`${b.containerPort}/${b.protocol}`] ??= []).push({ HostIp: b.hostIp ?? "0.0.0.0", HostPort: String(b.hostPort) });
    const running = r.state === "running" || r.state === "paused";
    return { Networks: networks, Ports: ports, SandboxKey: running && Object.keys(networks).length ? netnsFile(this.ctx.runroot, r.id) : "" };
  }

  async exec(ref: string, opts: ExecOptions): Promise<number> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state === "paused") throw conflict(`container ${rec.name} is paused; unpause it first`);
    if (rec.state !== "running") throw conflict(`container ${rec.name} is not running`);
    const p = this.paths(rec.id);
    const base = JSON.parse(await fsp.readFile(p.config, "utf8")) as RuntimeSpec;
    const { resolveUser } = await spec();
    // The container's root as its init sees it (the overlay may live only in the container's namespace).
    const root = `/proc/${rec.pid}/root`;
    const user = opts.user ? resolveUser(opts.user, await readInRoot(root, "/etc/passwd"), await readInRoot(root, "/etc/group")) : undefined;
    return execInContainer({ runtime: this.runtimeFor(rec), id: rec.id, root, paths: p, base, user, opts, hostFacts: this.hostFacts() });
  }

  async top(ref: string, psArgs: string[] = []): Promise<TopResult> {
    const rec = await this.observe(this.store.resolve(ref));
    if (rec.state !== "running" && rec.state !== "paused") throw conflict(`container ${rec.name} is not running`);
    const out = await this.runtimeFor(rec).ps(rec.id, psArgs);
    const lines = out.split("\n").filter((l) => l.trim());
    const header = lines.shift() ?? "";
    const titles = header.trim().split(/\s+/);
    const processes = lines.map((l) => {
      const cols = l.trim().split(/\s+/);
      return [...cols.slice(0, titles.length - 1), cols.slice(titles.length - 1).join(" ")];
    });
    return { Titles: titles, Processes: processes };
  }

  async stats(refs: string[], opts: { all?: boolean } = {}): Promise<StatsSample[]> {
    const recs = refs.length ? refs.map((r) => this.store.resolve(r)) : this.store.list();
    const out: StatsSample[] = [];
    const hostMem = totalmem();
    for (const r0 of recs) {
      const r = await this.observe(r0);
      const running = r.state === "running" || r.state === "paused";
      if (!running && !opts.all && !refs.length) continue;
      const s = running && r.pid ? await readCgroupStats(r.pid, hostMem).catch(() => undefined) : undefined;
      out.push({
        Id: r.id,
        Name: r.name,
        CPUPerc: 0,
        MemUsage: s?.memUsage ?? 0,
        MemLimit: s?.memLimit ?? 0,
        MemPerc: s && s.memLimit ? (s.memUsage / s.memLimit) * 100 : 0,
        PIDs: s?.pids ?? 0,
        cpuNs: s?.cpuNs ?? 0,
        at: Number(process.hrtime.bigint()),
      });
    }
    return out;
  }

  async rename(ref: string, name: string): Promise<void> {
    const rec = this.store.resolve(ref);
    this.store.rename(rec.id, name);
  }

  async update(ref: string, req: UpdateRequest): Promise<void> {
    const rec = await this.observe(this.store.resolve(ref));
    const { restart, ...resources } = req;
    const options: ContainerOptions = { ...rec.options, ...resources, ...(restart ? { restart } : {}) };
    await this.validate(options);
    const { buildResources } = await spec();
    if (Object.keys(resources).length && (rec.state === "running" || rec.state === "paused")) {
      const p = this.paths(rec.id);
      const file = join(p.bundle, "update.json");
      await fsp.writeFile(file, JSON.stringify(buildResources(options, this.hostFacts())));
      try {
        await this.runtimeFor(rec).update(rec.id, file);
      } finally {
        await fsp.rm(file, { force: true });
      }
    }
    this.store.update(rec.id, { options });
  }

  async boot(): Promise<{ started: string[] }> {
    const started: string[] = [];
    for (const r0 of this.store.list()) {
      const r = await this.observe(r0);
      const pol = r.options.restart?.name;
      if (r.state !== "exited") continue;
      if (pol === "always" || (pol === "unless-stopped" && !r.stoppedByUser)) {
        try {
          await this.startRecord(r, { restartCount: r.restartCount });
          started.push(r.id);
        } catch (e) {
          this.ctx.log.warn(`cannot start ${r.name}: ${(e as Error).message}`);
        }
      }
    }
    return { started };
  }

  /** Stop and remove every container (system reset). */
  async removeAll(): Promise<void> {
    for (const r of this.store.list()) await this.remove(r.id, { force: true }).catch((e) => this.ctx.log.warn(`${r.name}: ${(e as Error).message}`));
  }
}
