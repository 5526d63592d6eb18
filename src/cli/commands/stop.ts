import type { Command } from "commander";
import { forEachRef, parseInteger } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "stop"): void {
  parent
    .command(`${name} <container...>`)
    .description("Stop running containers: the stop signal, then SIGKILL after the timeout")
    .option("-t, --time <seconds>", "seconds to wait before killing (default: the container's stop timeout)")
    .option("-s, --signal <signal>", "signal to send (default: the container's stop signal)")
    .action(async (refs: string[], o: { time?: string; signal?: string }, cmd: Command) => {
      const timeout = o.time === undefined ? undefined : parseInteger("--time", o.time, -1);
      const { containers } = await engineFor(cmd);
      await forEachRef(refs, async (ref) => {
        await containers.stop(ref, { ...(timeout !== undefined ? { timeout } : {}), ...(o.signal ? { signal: o.signal } : {}) });
        return ref;
      });
    });
}
