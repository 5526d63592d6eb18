import type { Command } from "commander";
import { engineFor } from "../context.js";
import { table } from "../format.js";

export function register(parent: Command, name = "top"): void {
  parent
    .command(`${name} <container> [ps-options...]`)
    .description("Show the processes of a container (extra arguments are ps options, e.g. -ef or aux)")
    .passThroughOptions()
    .action(async (ref: string, psArgs: string[], _o, cmd: Command) => {
      const { containers } = await engineFor(cmd);
      const r = await containers.top(ref, psArgs.length ? psArgs : undefined);
      process.stdout.write(table(r.Titles, r.Processes));
    });
}
