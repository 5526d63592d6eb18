import type { Command } from "commander";
import { engineFor } from "../context.js";
import { renderTemplate } from "../format.js";

/** Docker's inspect output: a JSON array, or one rendered template line per object. */
export function printInspect(docs: unknown[], format?: string): void {
  if (format) process.stdout.write(docs.map((d) => renderTemplate(format, d) + "\n").join(""));
  else process.stdout.write(JSON.stringify(docs, null, 4) + "\n");
}

/**
 * Docker's inspect of several objects: print what was found as one array, report each miss on its own
 * line, and fail at the end if anything was missing.
 */
export async function inspectEach(names: string[], inspect: (name: string) => Promise<unknown>, format?: string): Promise<void> {
  const docs: unknown[] = [];
  let firstError: unknown;
  for (const n of names) {
    try {
      docs.push(await inspect(n));
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      firstError ??= e;
    }
  }
  printInspect(docs, format);
  if (firstError) throw Object.assign(firstError as object, { reported: true });
}

export function register(parent: Command, name = "inspect"): void {
  parent
    .command(`${name} <image...>`)
    .description("Show image details as JSON")
    .option("-f, --format <template>", "Go-style template, e.g. '{{.Id}}' or '{{json .Config}}'")
    .action(async (names: string[], o, cmd: Command) => {
      const engine = await engineFor(cmd);
      const docs = [];
      for (const n of names) docs.push(await engine.images.inspect(n));
      printInspect(docs, o.format);
    });
}
