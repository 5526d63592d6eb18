import type { Command } from "commander";
import { forEachRef } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "kill"): void {
  parent
    .command(`${name} <container...>`)
    .description("Send a signal to running containers")
    .option("-s, --signal <signal>", "signal to send", "KILL")
    .action(async (refs: string[], o: { signal: string }, cmd: Command) => {
      const { containers } = await engineFor(cmd);
      await forEachRef(refs, async (ref) => (await containers.kill(ref, o.signal), ref));
    });
}
