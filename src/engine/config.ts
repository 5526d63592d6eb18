import { readFile } from "node:fs/promises";
import { invalid } from "../core/errors.js";

/** /etc/berth/berth.yaml */
export interface BerthConfig {
  registries: {
    /** host[:port] or CIDR entries that may use plain HTTP or unverified TLS. */
    insecure: string[];
    mirrors: Record<string, string[]>;
  };
  runtime?: string;
  cgroupParent?: string;
  mgmtSubnets?: string[];
  network?: {
    /** Network of containers run without --network: a network name (default "berth") or "none". */
    default?: string;
    /** Bridge of the default network (default "berth0"). */
    defaultBridge?: string;
    /** nftables table berth keeps its rules in (default "berth"). */
    nftTable?: string;
  };
}

export const DEFAULT_CONFIG_PATH = "/etc/berth/berth.yaml";

export function defaultConfig(): BerthConfig {
  return { registries: { insecure: [], mirrors: {} } };
}

/**
 * Load the config file; a missing default file means defaults, a missing explicit one is an error.
 * The YAML parser and the schema load only when there is a file: most invocations have none.
 */
export async function loadConfig(path?: string): Promise<BerthConfig> {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (!path && (e as NodeJS.ErrnoException).code === "ENOENT") return defaultConfig();
    throw invalid(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  const { parseConfig } = await import("./config-schema.js");
  return parseConfig(text, file);
}
