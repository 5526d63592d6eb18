import type { Command } from "commander";
import { familiarName } from "../../core/reference.js";
import { invalid } from "../../core/errors.js";
import { engineFor } from "../context.js";
import { openInput } from "../io.js";

export function register(parent: Command, name = "load"): void {
  parent
    .command(name)
    .description("Load images from a docker-archive or OCI archive (tar, tar.gz or tar.zst)")
    .option("-i, --input <file>", "read from FILE instead of standard input")
    .option("-q, --quiet", "print nothing but errors")
    .action(async (o, cmd: Command) => {
      if (!o.input && process.stdin.isTTY) throw invalid("no archive given: use -i FILE or pipe an archive to standard input");
      const engine = await engineFor(cmd);
      const input = await openInput(o.input);
      const images = await engine.images.load(input);
      if (o.quiet) return;
      for (const img of images) {
        if (img.tags.length) for (const t of img.tags) process.stdout.write(`Loaded image: ${familiarName(t)}\n`);
        else process.stdout.write(`Loaded image ID: ${img.id}\n`);
      }
    });
}
