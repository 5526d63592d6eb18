import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import { forEachRef } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "rm"): void {
  parent
    .command(`${name} [container...]`)
    .description("Remove containers")
    .option("-f, --force", "stop (kill) running containers first")
    .option("-v, --volumes", "also remove anonymous volumes")
    .option("-a, --all", "remove all containers")
    .action(async (refs: string[], o: { force?: boolean; volumes?: boolean; all?: boolean }, cmd: Command) => {
      if (!o.all && refs.length === 0) throw invalid(`"${name}" requires at least 1 container (or --all)`);
      const { containers } = await engineFor(cmd);
      const targets = o.all ? (await containers.list({ all: true })).map((c) => c.Id) : refs;
      await forEachRef(targets, async (ref) => (await containers.remove(ref, { force: !!o.force, volumes: !!o.volumes }), ref));
    });
}
