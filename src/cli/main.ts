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

export function buildProgram(): Command {
  const program = new Command("berth")
    .description("Daemonless Linux containers and network labs")
    .version("0.1.0")
    .option("--root <dir>", "persistent state directory (env BERTH_ROOT, default /var/lib/berth)")
    .option("--runroot <dir>", "runtime state directory (env BERTH_RUNROOT, default /run/berth)")
    .option("--config <file>", "config file (default /etc/berth/berth.yaml)")
    .addOption(new Option("--log-level <level>", "error, warn, info or debug").choices(["error", "warn", "info", "debug"]).default("warn"))
    .showSuggestionAfterError(true)
    .enablePositionalOptions(false);

  pull.register(program);
  images.register(program);
  tag.register(program);
  rmi.register(program);
  load.register(program);
  save.register(program);
  importCmd.register(program);
  login.register(program);
  imageInspect.register(program, "inspect");

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

  const exitOnError = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error: /, "Error: ")) });
    cmd.commands.forEach(exitOnError);
  };
  exitOnError(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Unpacking is bound by the libuv pool (fs and zlib); the default of 4 starves parallel layer pulls.
  process.env.UV_THREADPOOL_SIZE ??= "16";
  let code = 0;
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
  process.exitCode = code;
}
