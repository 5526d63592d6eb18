import type { Command } from "commander";
import { forEachRef } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "pause"): void {
  parent
    .command(`${name} <container...>`)
    .description("Pause all processes in containers")
    .action(async (refs: string[], _o, cmd: Command) => {
      const { containers } = await engineFor(cmd);
      await forEachRef(refs, async (ref) => (await containers.pause(ref), ref));
    });
}
