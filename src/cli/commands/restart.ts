import type { Command } from "commander";
import { forEachRef, parseInteger } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "restart"): void {
  parent
    .command(`${name} <container...>`)
    .description("Restart containers")
    .option("-t, --time <seconds>", "seconds to wait for stop before killing")
    .action(async (refs: string[], o: { time?: string }, cmd: Command) => {
      const timeout = o.time === undefined ? undefined : parseInteger("--time", o.time, -1);
      const { containers } = await engineFor(cmd);
      await forEachRef(refs, async (ref) => (await containers.restart(ref, timeout !== undefined ? { timeout } : {}), ref));
    });
}
