/**
 * A Sandbox for container tests: loads the busybox fixture image, knows every container it ever held (an
 * inotify watch on root/containers catches even `run --rm` ones), and removes everything a container can
 * leave on the host: conmon and exit-command processes, runc state, overlay mounts, cgroup dirs.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { hostVethName } from "../../src/network/link-plan.js";
import { BERTH, Sandbox, type Run } from "./cli.js";
import { busyboxEntries, setRef, toOciArchive, writeImage, writeLayer, type Layout } from "./fixtures.js";

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** An extra image: a busybox rootfs with this image config (StopSignal, User, Env, Cmd...). */
export interface ExtraImage {
  /** Name it is loaded as, e.g. "stopsig:latest". */
  name: string;
  config?: Record<string, unknown>;
  extraFiles?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------
// Image archives: built once per test process (skopeo and gzip of busybox cost a second or two each).

let fixtureDir: string | undefined;
const archives = new Map<string, Promise<string>>();

function fixtures(): string {
  if (!fixtureDir) {
    const dir = mkdtempSync(join(tmpdir(), "berth-ctr-img-"));
    fixtureDir = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return fixtureDir;
}

function archiveFor(img: ExtraImage): Promise<string> {
  const key = JSON.stringify(img);
  let p = archives.get(key);
  if (!p) {
    p = (async () => {
      const n = archives.size;
      const layoutDir = join(fixtures(), `layout-${n}`);
      mkdirSync(join(layoutDir, "blobs", "sha256"), { recursive: true });
      writeFileSync(join(layoutDir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
      const layer = await writeLayer(layoutDir, await busyboxEntries(img.extraFiles));
      const arch = process.arch === "x64" ? "amd64" : process.arch;
      const desc = await writeImage(layoutDir, {
        architecture: arch,
        layers: [layer],
        config: { Env: [DEFAULT_PATH], Cmd: ["sh"], ...img.config },
        history: ["ADD busybox rootfs"],
      });
      const layout: Layout = await setRef(layoutDir, "latest", desc);
      const file = join(fixtures(), `image-${n}.tar`);
      await toOciArchive(layout, file, img.name.includes("/") || img.name.includes(":") ? img.name : `${img.name}:latest`);
      rmSync(layoutDir, { recursive: true, force: true });
      return file;
    })();
    archives.set(key, p);
  }
  return p;
}

export const BUSYBOX: ExtraImage = { name: "busybox:latest" };

// ---------------------------------------------------------------------------------------------------------
// Host state of the sandbox

interface CgroupHierarchy {
  /** Mount point joined with this process's own path in the hierarchy: where relative cgroupsPaths land. */
  base: string;
}

/** Every cgroup hierarchy (v1 controllers, named ones and v2) with this process's own cgroup in it. */
function cgroupBases(): CgroupHierarchy[] {
  const own = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m) own.set(m[2]!, m[3]!);
  }
  const out: CgroupHierarchy[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mp = pre.split(" ")[4]!;
    const root = pre.split(" ")[3]!;
    const [fstype, , superOpts] = post.split(" ");
    let path: string | undefined;
    if (fstype === "cgroup2") path = own.get("");
    else if (fstype === "cgroup") {
      const opts = (superOpts ?? "").split(",");
      for (const [ctls, p] of own) {
        if (!ctls) continue;
        const names = ctls.split(",");
        if (names.every((n) => opts.includes(n))) path = p;
      }
    }
    if (path === undefined) continue;
    // A bind-mounted hierarchy shows its own root; the process path is relative to the hierarchy root.
    const rel = root !== "/" && path.startsWith(root) ? path.slice(root.length) : path;
    out.push({ base: join(mp, rel) });
  }
  return out;
}

function decodeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f.length < 5) continue;
    const mp = decodeMountPath(f[4]!);
    if (mp === dir || mp.startsWith(`${dir}/`)) out.push(mp);
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

function pids(): number[] {
  return readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
}

function ls(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Files (not dirs) under dir, relative. */
function filesUnder(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const n of ls(dir)) {
    const p = join(dir, n);
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      /* vanished */
    }
    if (isDir) out.push(...filesUnder(p, `${prefix}${n}/`), `${prefix}${n}/`);
    else out.push(`${prefix}${n}`);
  }
  return out;
}

/** Subdirectories of a cgroup dir, deepest first, then the dir itself. */
function cgroupTree(dir: string): string[] {
  const out: string[] = [];
  for (const n of ls(dir)) {
    const p = join(dir, n);
    try {
      if (statSync(p).isDirectory()) out.push(...cgroupTree(p));
    } catch {
      /* vanished */
    }
  }
  out.push(dir);
  return out;
}

// ---------------------------------------------------------------------------------------------------------

export interface UntilOptions {
  /** Only bounds a hang: the condition is expected much sooner. */
  timeoutMs?: number;
  intervalMs?: number;
  what: string;
}

/** Poll fn until it returns a truthy value (returned); fail after the deadline naming what was awaited. */
export async function until<T>(fn: () => T | Promise<T>, o: UntilOptions): Promise<NonNullable<T>> {
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(o.intervalMs ?? 100);
  }
}

/** berth/ parent cgroups that existed before these tests: the only ones cleanup leaves in place. */
const parentCgroupsBefore = new Set(cgroupBases().map((b) => join(b.base, "berth")).filter((d) => existsSync(d)));

/**
 * The runtime makes the berth/ parent cgroups on first use; on a host that had none when this module
 * loaded, leave none (rmdir fails, harmlessly, while other containers still live in one).
 */
export function removeNewBerthCgroupParents(): void {
  for (const b of cgroupBases()) {
    const parent = join(b.base, "berth");
    if (parentCgroupsBefore.has(parent) || !existsSync(parent)) continue;
    try {
      rmdirSync(parent);
    } catch {
      /* in use */
    }
  }
}

export class ContainerSandbox extends Sandbox {
  /** Every container id that ever had a dir under root/containers. */
  readonly ids = new Set<string>();
  private watcher?: FSWatcher;

  /**
   * Each sandbox has its own config: containers get no network unless a test asks for one (networks are
   * host-wide objects), and any default network uses a bridge and an nftables table of its own.
   */
  readonly config = join(this.dir, "berth.yaml");
  readonly tag = Math.random().toString(36).slice(2, 8);

  override args(a: string[]): string[] {
    return ["--root", this.root, "--runroot", this.runroot, "--config", this.config, ...a];
  }

  static async create(opts: { images?: ExtraImage[] } = {}): Promise<ContainerSandbox> {
    const s = new ContainerSandbox();
    writeFileSync(s.config, `network:\n  default: none\n  defaultBridge: bt${s.tag}\n  nftTable: berth_t${s.tag}\n`);
    try {
      const containers = join(s.root, "containers");
      mkdirSync(containers, { recursive: true });
      s.watcher = watch(containers, (_ev, name) => {
        if (name && /^[0-9a-f]{64}$/.test(name)) s.ids.add(name);
      });
      for (const img of [BUSYBOX, ...(opts.images ?? [])]) await s.okAsync(["load", "-q", "-i", await archiveFor(img)]);
    } catch (e) {
      await s.cleanupAsync();
      throw e;
    }
    return s;
  }

  /** Let queued inotify events (containers that came and went, e.g. with --rm) reach the watcher. */
  async drainWatch(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    this.scanIds();
  }

  private scanIds(): void {
    for (const n of ls(join(this.root, "containers"))) if (/^[0-9a-f]{64}$/.test(n)) this.ids.add(n);
    for (const n of ls(join(this.runroot, "containers"))) if (/^[0-9a-f]{64}$/.test(n)) this.ids.add(n);
  }

  /** Sandbox.run with a bound: a hung command fails its test (spawnSync would block the test's own timeout). */
  override run(a: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Run {
    const r = spawnSync(BERTH, this.args(a), { input: opts.input ?? "", env: { ...process.env, ...opts.env }, encoding: "utf8", maxBuffer: 256 << 20, timeout: 120_000, killSignal: "SIGKILL" });
    this.scanIds();
    const hung = r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT" ? `\n[test: berth ${a.join(" ")} killed after 120 s]` : "";
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + hung };
  }

  override async runAsync(a: string[], input = ""): Promise<Run> {
    const r = await super.runAsync(a, input);
    this.scanIds();
    return r;
  }

  /** Run with a timeout (a hung command fails the test instead of the suite); kills only its own child. */
  runLimited(a: string[], timeoutMs = 60_000, input = ""): Promise<Run> {
    return new Promise((res) => {
      const p = spawn(BERTH, this.args(a));
      p.stdin.end(input);
      let stdout = "";
      let stderr = "";
      const t = setTimeout(() => {
        stderr += `\n[test: killed after ${timeoutMs} ms]`;
        p.kill("SIGKILL");
      }, timeoutMs);
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.on("close", (code) => {
        clearTimeout(t);
        this.scanIds();
        res({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  /** `inspect -f TEMPLATE` of one container, trimmed. */
  inspectF(ref: string, template: string): string {
    return this.ok(["inspect", "-f", template, ref]).trim();
  }

  inspectJson(ref: string): Record<string, any> {
    const arr = JSON.parse(this.ok(["inspect", ref])) as Record<string, any>[];
    return arr[0]!;
  }

  /** Cgroup dirs (every hierarchy) that hold containers of this sandbox: <base>/berth/<id>. */
  cgroupDirs(ids: Iterable<string> = this.ids): string[] {
    const out: string[] = [];
    const bases = cgroupBases();
    for (const id of ids) {
      for (const b of bases) {
        const d = join(b.base, "berth", id);
        if (existsSync(d)) out.push(d);
      }
    }
    return out;
  }

  /** Processes (other than this one) whose command line mentions the sandbox dir: conmon, exit commands, berth. */
  private processesMentioningDir(): { pid: number; comm: string; cmd: string }[] {
    const out: { pid: number; comm: string; cmd: string }[] = [];
    for (const pid of pids()) {
      if (pid === process.pid) continue;
      const c = cmdline(pid);
      if (c.includes(this.dir)) out.push({ pid, comm: comm(pid), cmd: c });
    }
    return out;
  }

  /**
   * Everything a removed container could have left behind, one human-readable line each; with `only`, the
   * lines that name one of those container ids (so a test is not blamed for another's containers).
   */
  async leftovers(only?: string[]): Promise<string[]> {
    const all = await this.allLeftovers();
    return only ? all.filter((l) => only.some((id) => l.includes(id))) : all;
  }

  /**
   * What still acts for a container: its processes (conmon, exit command), runtime state, mounts and cgroups.
   * Empty once nothing can restart or record it any more (its files under root stay until rm).
   */
  async active(id: string): Promise<string[]> {
    return (await this.leftovers([id])).filter((l) => /^(process|runc state|crun state|mount|cgroup) /.test(l));
  }

  private async allLeftovers(): Promise<string[]> {
    await this.drainWatch();
    const out: string[] = [];
    for (const m of mountsUnder(this.dir)) out.push(`mount ${m}`);
    for (const p of this.processesMentioningDir()) out.push(`process ${p.pid} (${p.comm}): ${p.cmd.slice(0, 200)}`);
    for (const rt of ["runc", "crun"]) for (const n of ls(join(this.runroot, rt))) out.push(`${rt} state ${n}`);
    for (const d of this.cgroupDirs()) out.push(`cgroup ${d}`);
    for (const f of filesUnder(join(this.runroot, "containers"))) out.push(`runroot/containers/${f}`);
    for (const f of filesUnder(join(this.runroot, "exits"))) out.push(`runroot/exits/${f}`);
    for (const n of ls(join(this.root, "containers"))) out.push(`root/containers/${n}`);
    for (const n of ls(join(this.runroot, "netns"))) out.push(`netns ${n}`);
    // Host ends of this sandbox's containers' veths (named from the container ID and the interface).
    const links = new Set((JSON.parse(spawnSync("ip", ["-j", "link", "show"], { encoding: "utf8" }).stdout || "[]") as { ifname: string }[]).map((l) => l.ifname));
    for (const id of this.ids) for (let i = 0; i < 8; i++) if (links.has(hostVethName(id, `eth${i}`))) out.push(`link ${hostVethName(id, `eth${i}`)} (${id.slice(0, 12)} eth${i})`);
    return out;
  }

  /** Networks, bridges and the nftables table this sandbox made (network tests create them). */
  private removeNetworks(): void {
    if (!existsSync(this.root)) return;
    const names = this.run(["network", "ls", "--format", "json"]).stdout;
    try {
      for (const n of JSON.parse(names || "[]") as { Name: string }[]) this.run(["network", "rm", "-f", n.Name]);
    } catch {
      /* no networks */
    }
    spawnSync("nft", ["delete", "table", "inet", `berth_t${this.tag}`], { stdio: "ignore" });
    spawnSync("ip", ["link", "del", `bt${this.tag}`], { stdio: "ignore" });
  }

  /** Container rows (ps -a, full ids). */
  containerIds(): string[] {
    return this.ok(["ps", "-aq", "--no-trunc"]).split("\n").filter(Boolean);
  }

  /** Remove everything, whatever state a failed test left. Safe to call twice. */
  async cleanupAsync(): Promise<void> {
    this.watcher?.close();
    if (existsSync(this.root)) {
      // Labs first: destroying one also removes its bridges, parking netns and management network.
      const labs = await this.runLimited(["lab", "ls", "--format", "json"], 30_000).catch(() => undefined);
      for (const l of labs?.code === 0 ? (JSON.parse(labs.stdout || "[]") as { name: string }[]) : []) await this.runLimited(["lab", "destroy", "-q", l.name], 120_000).catch(() => undefined);
      await this.runLimited(["rm", "-af"], 60_000).catch(() => undefined);
    }
    this.removeNetworks();
    await this.drainWatch();
    // Monitors and exit commands (a restart back-off sleeps in one) of this sandbox.
    for (const p of this.processesMentioningDir()) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    for (const rt of ["runc", "crun"]) {
      const stateRoot = join(this.runroot, rt);
      for (const n of ls(stateRoot)) {
        const bin = rt === "runc" ? "runc" : "crun";
        spawnSync(bin, ["--root", stateRoot, "delete", "-f", n], { stdio: "ignore", timeout: 30_000 });
      }
    }
    // Container processes whose runtime state is gone (a simulated reboot): kill what is left in their cgroups.
    for (const d of this.cgroupDirs()) {
      for (const sub of cgroupTree(d)) {
        let procs = "";
        try {
          procs = readFileSync(join(sub, "cgroup.procs"), "utf8");
        } catch {
          /* vanished */
        }
        for (const t of procs.split("\n").filter(Boolean)) {
          try {
            process.kill(Number(t), "SIGKILL");
          } catch {
            /* gone */
          }
        }
      }
    }
    for (const m of mountsUnder(this.dir).sort((a, b) => b.length - a.length)) spawnSync("umount", ["-l", m], { stdio: "ignore" });
    for (const d of this.cgroupDirs()) {
      for (const sub of cgroupTree(d)) {
        for (let i = 0; i < 50; i++) {
          try {
            rmdirSync(sub);
          } catch {
            /* busy: retried below */
          }
          if (!existsSync(sub)) break;
          await sleep(100); // killed tasks leave the cgroup asynchronously
        }
      }
    }
    removeNewBerthCgroupParents();
    rmSync(this.dir, { recursive: true, force: true });
  }

  override cleanup(): void {
    throw new Error("ContainerSandbox: use await cleanupAsync()");
  }
}

/** Read a file of the host (a convenience for tests that look at /proc). */
export function hostFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
