import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import { forEachRef, toResources, withResourceFlags, type ContainerFlagValues } from "../container-flags.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "update"): void {
  withResourceFlags(parent.command(`${name} <container...>`))
    .description("Change the resource limits or restart policy of containers")
    .action(async (refs: string[], o: ContainerFlagValues, cmd: Command) => {
      const req = toResources(o, true);
      if (Object.keys(req).length === 0) throw invalid("update needs at least one flag (see --help)");
      const { containers } = await engineFor(cmd);
      await forEachRef(refs, async (ref) => (await containers.update(ref, req), ref));
    });
}
