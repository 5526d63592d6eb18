import type { Command } from "commander";
import { forEachRef } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "unpause"): void {
  parent
    .command(`${name} <container...>`)
    .description("Resume all processes in paused containers")
    .action(async (refs: string[], _o, cmd: Command) => {
      const { containers } = await engineFor(cmd);
      await forEachRef(refs, async (ref) => (await containers.unpause(ref), ref));
    });
}
