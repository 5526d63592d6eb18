import type { Command } from "commander";
import { engineFor } from "../context.js";

/** conmon's exit command: records the exit, cleans up, applies the restart policy. Prints nothing. */
export function register(parent: Command, name = "cleanup"): void {
  parent
    .command(`${name} <id>`, { hidden: true })
    .description("Internal: clean up after a container exits (run by conmon)")
    .option("--run <ms>", "the run (its start time) this exit belongs to")
    .action(async (id: string, o: { run?: string }, cmd: Command) => {
      await (await engineFor(cmd)).containers.cleanup(id, o.run ? { run: Number(o.run) } : {});
    });
}
