import type { Command } from "commander";
import { engineFor } from "../context.js";
import { confirm } from "./system.js";

export function register(parent: Command, name = "prune"): void {
  parent
    .command(name)
    .description("Remove all stopped containers")
    .option("-f, --force", "do not prompt for confirmation")
    .action(async (o: { force?: boolean }, cmd: Command) => {
      // Docker asks first; berth asks only where someone can answer (scripts need no -f, as with image prune).
      if (!o.force && process.stdin.isTTY && !(await confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "))) return;
      const { removed } = await (await engineFor(cmd)).containers.prune();
      if (removed.length) process.stdout.write(`Deleted Containers:\n${removed.map((id) => `${id}\n`).join("")}`);
    });
}
