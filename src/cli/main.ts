import { Command, CommanderError, Option } from "commander";
import { BerthError, exitCodeOf } from "../core/errors.js";
import { closeEngine } from "./context.js";
import * as imageInspect from "./commands/image-inspect.js";
import * as imagePrune from "./commands/image-prune.js";
import * as images from "./commands/images.js";
import * as importCmd from "./commands/import.js";
import * as load from "./commands/load.js";
import * as login from "./commands/login.js";
import * as pull from "./commands/pull.js";
import * as rmi from "./commands/rmi.js";
import * as save from "./commands/save.js";
import * as tag from "./commands/tag.js";
import * as containerCleanup from "./commands/container-cleanup.js";
import * as containerPrune from "./commands/container-prune.js";
import * as create from "./commands/create.js";
import * as exec from "./commands/exec.js";
import * as inspect from "./commands/inspect.js";
import * as kill from "./commands/kill.js";
import * as logs from "./commands/logs.js";
import * as pause from "./commands/pause.js";
import * as ps from "./commands/ps.js";
import * as rename from "./commands/rename.js";
import * as restart from "./commands/restart.js";
import * as rm from "./commands/rm.js";
import * as run from "./commands/run.js";
import * as start from "./commands/start.js";
import * as stats from "./commands/stats.js";
import * as stop from "./commands/stop.js";
import * as system from "./commands/system.js";
import * as top from "./commands/top.js";
import * as unpause from "./commands/unpause.js";
import * as update from "./commands/update.js";
import * as wait from "./commands/wait.js";

/** Container verbs, the same at the top level and under `container`. */
const CONTAINER_VERBS = [run, create, start, stop, kill, restart, pause, unpause, rm, inspect, logs, wait, exec, top, stats, rename, update];

export function buildProgram(): Command {
  const program = new Command("berth")
    .description("Daemonless Linux containers and network labs")
    .version("0.1.0")
    .option("--root <dir>", "persistent state directory (env BERTH_ROOT, default /var/lib/berth)")
    .option("--runroot <dir>", "runtime state directory (env BERTH_RUNROOT, default /run/berth)")
    .option("--config <file>", "config file (default /etc/berth/berth.yaml)")
    .addOption(new Option("--log-level <level>", "error, warn, info or debug").choices(["error", "warn", "info", "debug"]).default("warn"))
    .showSuggestionAfterError(true)
    // Global flags go before the verb, and run/create/exec hand everything after the image or container
    // to the container's command (`berth run --rm busybox ls -l`), as Docker does.
    .enablePositionalOptions();

  pull.register(program);
  images.register(program);
  tag.register(program);
  rmi.register(program);
  load.register(program);
  save.register(program);
  importCmd.register(program);
  login.register(program);
  for (const verb of CONTAINER_VERBS) verb.register(program);
  ps.register(program);

  const image = program.command("image").description("Manage images");
  pull.register(image, "pull");
  images.register(image, "ls");
  imageInspect.register(image, "inspect");
  tag.register(image, "tag");
  rmi.register(image, "rm");
  imagePrune.register(image, "prune");
  load.register(image, "load");
  save.register(image, "save");
  importCmd.register(image, "import");

  const container = program.command("container").description("Manage containers").enablePositionalOptions();
  for (const verb of CONTAINER_VERBS) verb.register(container);
  ps.register(container, "ls").aliases(["ps", "list"]);
  containerPrune.register(container, "prune");
  containerCleanup.register(container, "cleanup");

  system.register(program.command("system").description("Manage berth itself"));

  acceptGlobalsAfterVerb(program, program);

  const exitOnError = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error: /, "Error: ")) });
    cmd.commands.forEach(exitOnError);
  };
  exitOnError(program);
  return program;
}

/**
 * Global flags are also accepted after the verb, before its arguments (`berth pull --log-level debug x`), as
 * Podman's persistent flags are. Positional options are on for the program (run/exec need them), so each verb
 * gets hidden copies that write the program's value.
 */
function acceptGlobalsAfterVerb(program: Command, parent: Command): void {
  for (const cmd of parent.commands) {
    if (cmd.commands.length) {
      acceptGlobalsAfterVerb(program, cmd);
      continue;
    }
    for (const g of program.options) {
      if (g.long === "--version") continue;
      const copy = new Option(g.flags, g.description).hideHelp();
      if (g.argChoices) copy.choices(g.argChoices);
      cmd.addOption(copy);
      cmd.on(`option:${copy.name()}`, (v: string) => program.setOptionValueWithSource(g.attributeName(), v, "cli"));
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  // Unpacking is bound by the libuv pool (fs and zlib); the default of 4 starves parallel layer pulls.
  process.env.UV_THREADPOOL_SIZE ??= "16";
  // An action may set process.exitCode (run, exec, wait...); an error overrides it.
  let code: number | undefined;
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version "fail" with code 0; usage errors are Docker's 125.
      code = e.exitCode === 0 ? 0 : 125;
    } else {
      if (!(e as { reported?: boolean }).reported) {
        const msg = e instanceof BerthError ? e.message : e instanceof Error ? `${e.message}` : String(e);
        process.stderr.write(`Error: ${msg}\n`);
        if (!(e instanceof BerthError) && process.env.BERTH_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
      }
      // An interrupted command exits as shells expect (128 + SIGINT).
      code = typeof (e as { exitCode?: unknown }).exitCode === "number" ? (e as { exitCode: number }).exitCode : exitCodeOf(e);
    }
  } finally {
    closeEngine();
  }
  process.exitCode = code ?? process.exitCode ?? 0;
}
