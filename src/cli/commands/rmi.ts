import type { Command } from "commander";
import { familiarName } from "../../core/reference.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "rmi"): void {
  parent
    .command(`${name} <image...>`)
    .description("Remove images (a tag argument removes the tag; the image goes when nothing names it)")
    .option("-f, --force", "remove an image referenced by several tags")
    .action(async (names: string[], o, cmd: Command) => {
      const engine = await engineFor(cmd);
      let firstError: unknown;
      for (const n of names) {
        try {
          const r = await engine.images.remove(n, { force: !!o.force });
          for (const u of r.untagged) process.stdout.write(`Untagged: ${familiarName(u)}\n`);
          for (const d of r.deleted) process.stdout.write(`Deleted: ${d}\n`);
        } catch (e) {
          // Docker goes on with the other names and fails at the end.
          if (names.length === 1) throw e;
          process.stderr.write(`Error: ${(e as Error).message}\n`);
          firstError ??= e;
        }
      }
      if (firstError) throw Object.assign(firstError as object, { reported: true });
    });
}
