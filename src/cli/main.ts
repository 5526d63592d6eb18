import { Command, CommanderError, Option } from "commander";
import { BerthError, exitCodeOf } from "../core/errors.js";
import { closeEngine } from "./context.js";
import { mark } from "../core/trace.js";
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
import * as cp from "./commands/cp.js";
import * as volume from "./commands/volume.js";
import * as lab from "./commands/lab.js";
import * as network from "./commands/network.js";
import * as port from "./commands/port.js";

type Verb = { register: (parent: Command, name?: string) => unknown };

/** Container verbs, the same at the top level and under `container`. */
const CONTAINER_VERBS: Record<string, Verb> = { run, create, start, stop, kill, restart, pause, unpause, rm, inspect, logs, wait, exec, top, stats, rename, update, cp, port };

/** Top-level verbs; each registers itself. */
const TOP: Record<string, Verb> = { pull, images, tag, rmi, load, save, import: importCmd, login, ...CONTAINER_VERBS, ps };

const GLOBAL_WITH_VALUE = new Set(["--root", "--runroot", "--config", "--log-level"]);

/** The first two words of the command line after the global flags (`run`, or `container cleanup`). */
export function verbWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 2; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (words.length === 0 && a.startsWith("-")) {
      if (GLOBAL_WITH_VALUE.has(a)) i++;
      continue;
    }
    if (a.startsWith("-")) break;
    words.push(a);
  }
  return words;
}

/**
 * The program. Given argv, only the verb being run is registered: building all ~60 commands with their
 * options costs ~17 ms of every invocation, and `container cleanup` runs at every container exit. Help,
 * unknown verbs and no verb get the whole tree.
 */
export function buildProgram(argv: string[] = []): Command {
  const [first, second] = verbWords(argv);
  const full = !first || !(first in TOP || ["image", "container", "system", "volume", "network", "lab"].includes(first));
  const want = (group: string | null, name: string) => full || (group === null ? first === name : first === group && (!second || second === name || (name === "ls" && ["ps", "list"].includes(second))));

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

  for (const [name, verb] of Object.entries(TOP)) if (want(null, name)) verb.register(program);

  if (want(null, "image")) {
    const image = program.command("image").description("Manage images");
    const sub: [string, Verb][] = [
      ["pull", pull], ["ls", images], ["inspect", imageInspect], ["tag", tag], ["rm", rmi], ["prune", imagePrune], ["load", load], ["save", save], ["import", importCmd],
    ];
    for (const [n, v] of sub) if (want("image", n)) v.register(image, n);
  }

  if (want(null, "container")) {
    const container = program.command("container").description("Manage containers").enablePositionalOptions();
    for (const [name, verb] of Object.entries(CONTAINER_VERBS)) if (want("container", name)) verb.register(container);
    if (want("container", "ls")) ps.register(container, "ls").aliases(["ps", "list"]);
    if (want("container", "prune")) containerPrune.register(container, "prune");
    if (want("container", "cleanup")) containerCleanup.register(container, "cleanup");
  }

  if (want(null, "volume")) volume.register(program.command("volume").description("Manage volumes"), (n) => want("volume", n));

  if (want(null, "network")) network.register(program.command("network").description("Manage networks"), (n) => want("network", n));

  if (want(null, "lab")) lab.register(program.command("lab").description("Deploy and manage network labs").enablePositionalOptions(), (n) => want("lab", n));

  if (want(null, "system")) system.register(program.command("system").description("Manage berth itself"));

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
  mark("cli: bundle loaded");
  try {
    await buildProgram(argv).parseAsync(argv);
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
    mark("cli: done");
  }
  process.exitCode = code ?? process.exitCode ?? 0;
}
