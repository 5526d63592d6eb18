import type { Command } from "commander";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "tag"): void {
  parent
    .command(`${name} <source> <target...>`)
    .description("Add tags to an image")
    .action(async (source: string, targets: string[], _o, cmd: Command) => {
      const engine = await engineFor(cmd);
      for (const t of targets) engine.images.tag(source, t);
    });
}
