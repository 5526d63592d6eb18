import type { Command } from "commander";
import { forEachRef } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "wait"): void {
  parent
    .command(`${name} <container...>`)
    .description("Wait until containers stop, then print their exit codes")
    .action(async (refs: string[], _o, cmd: Command) => {
      const { containers } = await engineFor(cmd);
      await forEachRef(refs, async (ref) => String(await containers.wait(ref)));
    });
}
