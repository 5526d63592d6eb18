import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import { forEachRef } from "../container-flags.js";
import { engineFor } from "../context.js";
import { humanSize, renderTemplate, table } from "../format.js";
import { inspectEach } from "./image-inspect.js";
import { confirm } from "./system.js";

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function keyValues(flag: string, values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf("=");
    if (eq === 0) throw invalid(`invalid ${flag} "${v}": expected key=value`);
    if (eq < 0) out[v] = "";
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

function filters(values: string[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of values ?? []) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw invalid(`invalid --filter "${f}": expected key=value`);
    (out[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
  }
  return out;
}

/** `berth volume create|ls|inspect|rm|prune`; `want` says which subcommands to build (main.ts builds only the one run). */
export function register(group: Command, want: (name: string) => boolean = () => true): void {
  if (want("create")) {
    group
      .command("create [name]")
      .description("Create a volume (a random name when none is given); an existing one of that name is kept")
      .option("-d, --driver <driver>", "volume driver (only local)", "local")
      .option("-l, --label <key=value>", "set a label", collect)
      .option("-o, --opt <key=value>", "driver option (the local driver takes none yet)", collect)
      .action(async (name: string | undefined, o: { driver: string; label?: string[]; opt?: string[] }, cmd: Command) => {
        const v = await (await engineFor(cmd)).volumes.create({ ...(name !== undefined ? { name } : {}), driver: o.driver, labels: keyValues("--label", o.label), options: keyValues("--opt", o.opt) });
        process.stdout.write(`${v.Name}\n`);
      });
  }
  if (want("ls")) {
    group
      .command("ls")
      .alias("list")
      .description("List volumes")
      .option("-q, --quiet", "only show volume names")
      .option("-f, --filter <key=value>", "filter: name, label, dangling, driver", collect)
      .option("--format <format>", "json, table, or a Go-style template such as '{{.Name}}'")
      .action(async (o: { quiet?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
        const vols = await (await engineFor(cmd)).volumes.list({ filters: filters(o.filter) });
        if (o.quiet) return void process.stdout.write(vols.map((v) => `${v.Name}\n`).join(""));
        if (o.format === "json") return void process.stdout.write(JSON.stringify(vols, null, 2) + "\n");
        if (o.format && o.format !== "table") return void process.stdout.write(vols.map((v) => renderTemplate(o.format!, v) + "\n").join(""));
        process.stdout.write(table(["DRIVER", "VOLUME NAME"], vols.map((v) => [v.Driver, v.Name])));
      });
  }
  if (want("inspect")) {
    group
      .command("inspect <name...>")
      .description("Show details of volumes as JSON")
      .option("-f, --format <template>", "Go-style template, e.g. '{{.Mountpoint}}'")
      .action(async (names: string[], o: { format?: string }, cmd: Command) => {
        const engine = await engineFor(cmd);
        await inspectEach(names, (n) => engine.volumes.inspect(n), o.format);
      });
  }
  if (want("rm") || want("remove")) {
    group
      .command("rm <name...>")
      .alias("remove")
      .description("Remove volumes (not while a container uses them)")
      .option("-f, --force", "a missing volume is not an error")
      .action(async (names: string[], o: { force?: boolean }, cmd: Command) => {
        const { volumes } = await engineFor(cmd);
        await forEachRef(names, async (n) => (await volumes.remove(n, { force: !!o.force }), n), 1);
      });
  }
  if (want("prune")) {
    group
      .command("prune")
      .description("Remove every volume no container uses")
      .option("-f, --force", "do not prompt for confirmation")
      .option("-a, --all", "accepted for Docker compatibility: named volumes are pruned too")
      .option("--filter <key=value>", "filter: label", collect)
      .action(async (o: { force?: boolean; filter?: string[] }, cmd: Command) => {
        if (!o.force && process.stdin.isTTY && !(await confirm("WARNING! This will remove all volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "))) return;
        const { removed, spaceReclaimed } = await (await engineFor(cmd)).volumes.prune({ filters: filters(o.filter) });
        if (removed.length) process.stdout.write(`Deleted Volumes:\n${removed.map((n) => `${n}\n`).join("")}\n`);
        process.stdout.write(`Total reclaimed space: ${humanSize(spaceReclaimed)}\n`);
      });
  }
}
