import type { Command } from "commander";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "rename"): void {
  parent
    .command(`${name} <container> <new-name>`)
    .description("Rename a container")
    .action(async (ref: string, newName: string, _o, cmd: Command) => {
      await (await engineFor(cmd)).containers.rename(ref, newName);
    });
}
