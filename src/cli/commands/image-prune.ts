import type { Command } from "commander";
import { engineFor } from "../context.js";
import { humanSize } from "../format.js";

export function register(parent: Command, name = "prune"): void {
  parent
    .command(name)
    .description("Remove blobs and snapshots no image references, and leftovers of interrupted pulls")
    .option("-f, --force", "do not prompt (berth never prompts; accepted for Docker compatibility)")
    .action(async (_o, cmd: Command) => {
      const engine = await engineFor(cmd);
      const r = await engine.images.prune();
      process.stdout.write(`Removed ${r.blobs} blobs and ${r.snapshots} snapshots\nTotal reclaimed space: ${humanSize(r.bytes)}\n`);
    });
}
