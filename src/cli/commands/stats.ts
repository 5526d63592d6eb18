import type { Command } from "commander";
import { setTimeout as sleep } from "node:timers/promises";
import type { StatsSample } from "../../engine/container-types.js";
import { engineFor } from "../context.js";
import { renderTemplate, shortId, table } from "../format.js";

/** Docker's binary sizes for stats (go-units BytesSize: four significant digits, KiB/MiB/GiB). */
export function binarySize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** CPU % over the interval since the previous sample of the same container (the engine's own figure on the first). */
export function withCpuDelta(s: StatsSample, prev: StatsSample | undefined): StatsSample {
  if (!prev || s.at <= prev.at) return s;
  return { ...s, CPUPerc: (Math.max(0, s.cpuNs - prev.cpuNs) / (s.at - prev.at)) * 100 };
}

function row(s: StatsSample, noTrunc: boolean) {
  return {
    Container: noTrunc ? s.Id : shortId(s.Id),
    ID: noTrunc ? s.Id : shortId(s.Id),
    Name: s.Name.replace(/^\//, ""),
    CPUPerc: `${s.CPUPerc.toFixed(2)}%`,
    MemUsage: `${binarySize(s.MemUsage)} / ${binarySize(s.MemLimit)}`,
    MemPerc: `${s.MemPerc.toFixed(2)}%`,
    PIDs: String(s.PIDs),
  };
}

function render(samples: StatsSample[], format: string | undefined, noTrunc: boolean): string {
  if (format === "json") return JSON.stringify(samples, null, 2) + "\n";
  const rows = samples.map((s) => row(s, noTrunc));
  if (format && format !== "table") return rows.map((r) => renderTemplate(format, r) + "\n").join("");
  const header = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"];
  return table(header, rows.map((r) => [r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.PIDs]));
}

export function register(parent: Command, name = "stats"): void {
  parent
    .command(`${name} [container...]`)
    .description("Show containers' resource usage, refreshed every second until Ctrl-C (running containers unless -a)")
    .option("-a, --all", "show all containers")
    .option("--no-stream", "print one sample and exit")
    .option("--no-trunc", "do not truncate IDs")
    .option("--format <format>", "json, table, or a Go-style template such as '{{.Name}} {{.CPUPerc}}'")
    .action(async (refs: string[], o: { all?: boolean; stream: boolean; trunc: boolean; format?: string }, cmd: Command) => {
      const { containers } = await engineFor(cmd);
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.on("SIGINT", onSigint);
      // Clear the screen between refreshes on a terminal, as Docker does.
      const clear = o.stream && process.stdout.isTTY ? "\x1b[2J\x1b[H" : "";
      try {
        let prev = new Map<string, StatsSample>();
        while (!abort.signal.aborted) {
          const samples = (await containers.stats(refs, { all: !!o.all })).map((s) => withCpuDelta(s, prev.get(s.Id)));
          if (abort.signal.aborted) break;
          process.stdout.write(clear + render(samples, o.format, !o.trunc));
          if (!o.stream) return;
          prev = new Map(samples.map((s) => [s.Id, s]));
          await sleep(1000, undefined, { signal: abort.signal }).catch(() => {});
        }
      } finally {
        process.off("SIGINT", onSigint);
      }
      process.exitCode = 130;
    });
}
