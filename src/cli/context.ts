import { Command, Option } from "commander";
import { invalid } from "../core/errors.js";
import { parseLogLevel } from "../core/log.js";
import { mark } from "../core/trace.js";
import type { Engine } from "../engine/engine.js";
import type { RegistryAccess } from "../engine/images.js";

/** Global flags, read from the root command. */
export interface GlobalOptions {
  root?: string;
  runroot?: string;
  config?: string;
  logLevel?: string;
}

let opened: Engine | undefined;

/** Open the engine once per process, on first use, so `--help` and parse errors never touch the store. */
export async function engineFor(cmd: Command): Promise<Engine> {
  if (opened) return opened;
  const g = cmd.optsWithGlobals() as GlobalOptions;
  const { Engine } = await import("../engine/engine.js");
  opened = await Engine.open({
    ...(g.root ? { root: g.root } : {}),
    ...(g.runroot ? { runroot: g.runroot } : {}),
    ...(g.config ? { config: g.config } : {}),
    logLevel: parseLogLevel(g.logLevel ?? "warn"),
  });
  mark("cli: engine open");
  return opened;
}

export function closeEngine(): void {
  opened?.close();
  opened = undefined;
}

function parseBool(flag: string) {
  return (v: string | undefined): boolean => {
    if (v === undefined || v === "true") return true;
    if (v === "false") return false;
    throw invalid(`invalid value "${v}" for ${flag}: expected true or false`);
  };
}

/** Podman's registry-access flags, shared by pull, login and friends. */
export function withRegistryFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option("--tls-verify [bool]", "require HTTPS and verify certificates (default: automatic)").argParser(parseBool("--tls-verify")))
    .option("--cert-dir <dir>", "directory with CA certificates (*.crt) and client certificates (*.cert, *.key)")
    .option("--authfile <file>", "credentials file (Docker config.json format)")
    .option("--creds <user:password>", "credentials for the registry");
}

export function registryAccess(o: { tlsVerify?: boolean; certDir?: string; authfile?: string; creds?: string }): RegistryAccess {
  const a: RegistryAccess = {};
  if (o.tlsVerify !== undefined) a.tlsVerify = o.tlsVerify;
  if (o.certDir) a.certDir = o.certDir;
  if (o.authfile) a.authfile = o.authfile;
  if (o.creds !== undefined) {
    const i = o.creds.indexOf(":");
    if (i <= 0) throw invalid(`invalid --creds: expected user:password`);
    a.creds = { username: o.creds.slice(0, i), password: o.creds.slice(i + 1) };
  }
  return a;
}
