import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import type { ContainerSummary, ListOptions } from "../../engine/container-types.js";
import { parseInteger } from "../container-flags.js";
import { engineFor } from "../context.js";
import { humanAgo, renderTemplate, shortId, table } from "../format.js";

/** Docker's template fields for `ps --format`. */
interface Row {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  RunningFor: string;
  Ports: string;
  State: string;
  Status: string;
  Names: string;
  Labels: string;
}

/** Docker's Ellipsis: at most `max` characters, the last one "…" when cut. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join("") + "…";
}

export function toRow(c: ContainerSummary, noTrunc: boolean, now = Date.now()): Row {
  const created = new Date(c.Created * 1000).toISOString();
  return {
    ID: noTrunc ? c.Id : shortId(c.Id),
    Image: c.Image,
    Command: JSON.stringify(noTrunc ? c.Command : ellipsis(c.Command, 20)),
    CreatedAt: created,
    RunningFor: humanAgo(created, now),
    Ports: "",
    State: c.State,
    Status: c.Status,
    Names: c.Names.map((n) => n.replace(/^\//, "")).join(","),
    Labels: Object.entries(c.Labels).map(([k, v]) => `${k}=${v}`).join(","),
  };
}

export function register(parent: Command, name = "ps"): Command {
  return parent
    .command(name)
    .description("List containers (running ones unless -a)")
    .option("-a, --all", "show all containers")
    .option("-q, --quiet", "only show container IDs")
    .option("-n, --last <n>", "show the n most recently created containers (all states)")
    .option("-l, --latest", "show the most recently created container (all states)")
    .option("--no-trunc", "do not truncate output")
    .option("-f, --filter <key=value>", "filter: id, name, label, status, ancestor, exited", (v: string, p: string[] = []) => [...p, v])
    .option("--format <format>", "json, table, or a Go-style template such as '{{.ID}} {{.Names}}'")
    .action(async (o: { all?: boolean; quiet?: boolean; last?: string; latest?: boolean; trunc?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      const req: ListOptions = { all: !!o.all };
      const last = o.latest ? 1 : o.last !== undefined ? parseInteger("--last", o.last, -1) : -1;
      if (last >= 0) Object.assign(req, { all: true, last });
      if (o.filter) {
        req.filters = {};
        for (const f of o.filter) {
          const eq = f.indexOf("=");
          if (eq <= 0) throw invalid(`invalid --filter "${f}": expected key=value`);
          (req.filters[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
        }
      }
      const list = await (await engineFor(cmd)).containers.list(req);
      const noTrunc = o.trunc === false;
      if (o.quiet) return void process.stdout.write(list.map((c) => `${noTrunc ? c.Id : shortId(c.Id)}\n`).join(""));
      if (o.format === "json") return void process.stdout.write(JSON.stringify(list, null, 2) + "\n");
      const rows = list.map((c) => toRow(c, noTrunc));
      if (o.format && o.format !== "table") return void process.stdout.write(rows.map((r) => renderTemplate(o.format!, r) + "\n").join(""));
      const header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];
      process.stdout.write(table(header, rows.map((r) => [r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names])));
    });
}
