import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import { engineFor } from "../context.js";

export function register(parent: Command, name = "save"): void {
  parent
    .command(`${name} <image...>`)
    .description("Save images to an archive")
    .option("-o, --output <file>", "write to FILE (gzip-compressed when it ends in .gz) instead of standard output")
    .option("--format <format>", "docker-archive or oci-archive", "docker-archive")
    .action(async (names: string[], o, cmd: Command) => {
      if (o.format !== "docker-archive" && o.format !== "oci-archive") throw invalid(`invalid --format "${o.format}": expected docker-archive or oci-archive`);
      if (!o.output && process.stdout.isTTY) throw invalid("refusing to write an archive to a terminal: use -o FILE or redirect standard output");
      const engine = await engineFor(cmd);
      if (o.output) await engine.images.saveToFile(names, o.output, { format: o.format, gzip: String(o.output).endsWith(".gz") });
      else await engine.images.save(names, process.stdout, { format: o.format });
    });
}
