import type { Command } from "commander";
import { engineFor } from "../context.js";
import { openInput } from "../io.js";

export function register(parent: Command, name = "import"): void {
  parent
    .command(`${name} <file> [name]`)
    .description("Create a one-layer image from a root filesystem tarball (FILE, or - for standard input)")
    .option("-c, --change <instruction>", "apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("-m, --message <text>", "commit message for the history entry")
    .option("--platform <os/arch[/variant]>", "platform to record in the image config")
    .option("-q, --quiet", "print nothing but the image ID")
    .action(async (file: string, name: string | undefined, o, cmd: Command) => {
      const engine = await engineFor(cmd);
      const input = await openInput(file);
      // Docker writes `--change 'CMD ["sh"]'`; berth's importer takes KEY=VALUE. Accept both.
      const changes = (o.change as string[]).map((c) => (/^[A-Za-z]+=/.test(c) ? c : c.replace(/^([A-Za-z]+)\s+/, "$1=")));
      const img = await engine.images.import(input, {
        ...(name ? { name } : {}),
        changes,
        ...(o.platform ? { platform: o.platform } : {}),
        ...(o.message ? { message: o.message } : {}),
      });
      process.stdout.write(`${img.id}\n`);
    });
}
