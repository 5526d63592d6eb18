import type { Command } from "commander";
import { precondition } from "../../core/errors.js";
import { engineFor } from "../context.js";
import { readSecret } from "../prompt.js";

/** Ask a yes/no question on the terminal; only "y" or "yes" agrees. */
export async function confirm(question: string): Promise<boolean> {
  const answer = await readSecret(question, true);
  return /^y(es)?$/i.test(answer.trim());
}

export function register(parent: Command): void {
  parent
    .command("boot")
    .description("After a host boot: start containers whose restart policy says so, and reconcile the others")
    .action(async (_o, cmd: Command) => {
      const { started } = await (await engineFor(cmd)).containers.boot();
      process.stdout.write(started.map((id) => `${id}\n`).join(""));
    });

  parent
    .command("reset")
    .description("Remove all containers, images, snapshots and blobs, and berth's runtime state")
    .option("-f, --force", "do not prompt for confirmation")
    .action(async (o: { force?: boolean }, cmd: Command) => {
      if (!o.force) {
        // Never wipe everything on an unanswered prompt: without a terminal, insist on -f.
        if (!process.stdin.isTTY) throw precondition("system reset removes everything: pass -f to confirm when stdin is not a terminal");
        if (!(await confirm("WARNING! This will remove all containers, images and build state.\nAre you sure you want to continue? [y/N] "))) return;
      }
      await (await engineFor(cmd)).reset();
    });
}
