import { Option, type Command } from "commander";
import { invalid } from "../../core/errors.js";
import { forEachRef, parseBool } from "../container-flags.js";
import { engineFor } from "../context.js";
import { attachAndStart } from "./run.js";

export function register(parent: Command, name = "start"): void {
  parent
    .command(`${name} <container...>`)
    .description("Start stopped containers; with -a, attach and exit with the container's exit code")
    .option("-a, --attach", "attach stdout/stderr and wait for the container to exit")
    .option("-i, --interactive", "attach stdin")
    .addOption(new Option("--sig-proxy [bool]", "forward received signals to the container (default true; off with a TTY)").argParser(parseBool("--sig-proxy")))
    .action(async (refs: string[], o: { attach?: boolean; interactive?: boolean; sigProxy?: boolean }, cmd: Command) => {
      const { containers } = await engineFor(cmd);
      if (!o.attach && !o.interactive) return forEachRef(refs, async (ref) => (await containers.start(ref), ref));
      if (refs.length > 1) throw invalid("you cannot start and attach multiple containers at once");
      const c = await containers.inspect(refs[0]!);
      const flags = { interactive: !!o.interactive && c.Config.OpenStdin, tty: c.Config.Tty, sigProxy: o.sigProxy ?? true };
      process.exitCode = await attachAndStart(containers, c.Id, flags, () => containers.start(c.Id));
    });
}
