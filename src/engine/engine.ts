import { mkdirSync } from "node:fs";
import { createLogger, type LogLevel, type Logger } from "../core/log.js";
import { ImageStore } from "../image/store.js";
import { loadConfig, type BerthConfig } from "./config.js";
import { Images } from "./images.js";
import { createContainers } from "./containers.js";
import type { ContainersApi } from "./container-types.js";

export interface EngineOptions {
  /** Persistent state (default $BERTH_ROOT or /var/lib/berth). */
  root?: string;
  /** Runtime state (default $BERTH_RUNROOT or /run/berth). */
  runroot?: string;
  /** A config object, or the path of a YAML config file (default /etc/berth/berth.yaml if present). */
  config?: BerthConfig | string;
  logLevel?: LogLevel;
  log?: Logger;
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
  ) {
    this.containers = createContainers();
  }

  readonly containers: ContainersApi;

  /** Remove every container, image, snapshot and blob, and the runroot's files (`berth system reset`). */
  async reset(): Promise<void> {
    throw new Error("reset is not implemented yet");
  }

  static async open(opts: EngineOptions = {}): Promise<Engine> {
    const root = opts.root ?? process.env.BERTH_ROOT ?? DEFAULT_ROOT;
    const runroot = opts.runroot ?? process.env.BERTH_RUNROOT ?? DEFAULT_RUNROOT;
    const config = typeof opts.config === "object" ? opts.config : await loadConfig(opts.config);
    const log = opts.log ?? createLogger(opts.logLevel ?? "warn");
    mkdirSync(runroot, { recursive: true, mode: 0o700 });
    const store = await ImageStore.open(root);
    return new Engine(root, runroot, config, log, new Images(store, config, log));
  }

  close(): void {
    this.images.store.close();
  }
}
