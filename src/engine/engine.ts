import { mkdirSync } from "node:fs";
import { createLogger, type LogLevel, type Logger } from "../core/log.js";
import { ImageStore } from "../image/store.js";
import { loadConfig, type BerthConfig } from "./config.js";
import { Images } from "./images.js";
import { Containers } from "./containers.js";
import { ContainerFiles, Volumes } from "./volumes.js";
import { Labs } from "./labs.js";
import type { Networks } from "./networks.js";

export interface EngineOptions {
  /** Persistent state (default $BERTH_ROOT or /var/lib/berth). */
  root?: string;
  /** Runtime state (default $BERTH_RUNROOT or /run/berth). */
  runroot?: string;
  /** A config object, or the path of a YAML config file (default /etc/berth/berth.yaml if present). */
  config?: BerthConfig | string;
  logLevel?: LogLevel;
  log?: Logger;
  /** argv that runs the berth CLI, for conmon's exit command (default: this process's CLI, or the built bundle). */
  cliCommand?: string[];
}

/** The CLI that conmon runs when a container exits: the bundle this process runs from, or the built one. */
function cliCommand(): string[] {
  const main = process.argv[1] ?? "";
  if (/berth\.cjs$/.test(main)) return [process.execPath, main];
  let here = "";
  try {
    here = new URL(".", import.meta.url).pathname;
  } catch {
    /* bundled: argv[1] was the bundle */
  }
  return [process.execPath, `${here}../../bundle/berth.cjs`];
}

export const DEFAULT_ROOT = "/var/lib/berth";
export const DEFAULT_RUNROOT = "/run/berth";

/** The engine facade: one object per root, composing the subsystems. CLI and API are thin adapters over it. */
export class Engine {
  private constructor(
    readonly root: string,
    readonly runroot: string,
    readonly config: BerthConfig,
    readonly log: Logger,
    readonly images: Images,
    readonly containers: Containers,
  ) {
    this.volumes = new Volumes(containers.volumes);
    this.files = new ContainerFiles(containers);
  }

  /** Named volumes (`berth volume ...`). */
  readonly volumes: Volumes;

  /** Networks (`berth network ...`). */
  get networks(): Networks {
    return this.containers.networks;
  }
  /** Copies between the host and containers (`berth cp`). */
  readonly files: ContainerFiles;

  private labsApi?: Labs;
  /** Network labs (`berth lab ...`). */
  get labs(): Labs {
    this.labsApi ??= new Labs({ root: this.root, runroot: this.runroot, log: this.log, db: this.images.store.db, containers: this.containers, images: this.images });
    return this.labsApi;
  }

  /** Remove every container, image, snapshot and blob, and the runroot's files (`berth system reset`). */
  async reset(): Promise<void> {
    for (const lab of this.labs.list()) await this.labs.destroy(lab.name).catch((e) => this.log.warn(`lab ${lab.name}: ${(e as Error).message}`));
    await this.containers.removeAll();
    await this.containers.volumes.removeAll();
    await this.containers.networks.removeAll();
    await this.images.store.resetAll();
    const { rm } = await import("node:fs/promises");
    for (const d of ["containers", "exits", "runc", "crun", "netns", "runtime-probe.json"]) await rm(`${this.runroot}/${d}`, { recursive: true, force: true });
  }

  static async open(opts: EngineOptions = {}): Promise<Engine> {
    const root = opts.root ?? process.env.BERTH_ROOT ?? DEFAULT_ROOT;
    const runroot = opts.runroot ?? process.env.BERTH_RUNROOT ?? DEFAULT_RUNROOT;
    const config = typeof opts.config === "object" ? opts.config : await loadConfig(opts.config);
    const log = opts.log ?? createLogger(opts.logLevel ?? "warn");
    mkdirSync(runroot, { recursive: true, mode: 0o700 });
    const store = await ImageStore.open(root);
    const images = new Images(store, config, log);
    const containers = new Containers({
      root,
      runroot,
      config,
      ...(typeof opts.config === "string" ? { configPath: opts.config } : {}),
      log,
      images,
      db: store.db,
      cliCommand: opts.cliCommand ?? cliCommand(),
    });
    return new Engine(root, runroot, config, log, images, containers);
  }

  close(): void {
    this.images.store.close();
  }
}
