import type { Command } from "commander";
import { engineFor } from "../context.js";

/** conmon's exit command: records the exit, cleans up, applies the restart policy. Prints nothing. */
export function register(parent: Command, name = "cleanup"): void {
  parent
    .command(`${name} <id>`, { hidden: true })
    .description("Internal: clean up after a container exits (run by conmon)")
    .action(async (id: string, _o, cmd: Command) => {
      await (await engineFor(cmd)).containers.cleanup(id);
    });
}
