import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import type { LogsOptions } from "../../engine/container-types.js";
import { parseInteger } from "../container-flags.js";
import { engineFor } from "../context.js";

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * Docker's --since/--until: RFC 3339 (a date or time without a zone is local time), unix seconds
 * (fractional allowed), or a Go duration such as 10m or 1h30m counted back from now. Returns unix seconds.
 */
export function parseTimeArg(flag: string, value: string, now = Date.now()): number {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  if (/^((\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(v)) {
    let secs = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) secs += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    return now / 1000 - secs;
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(v)) {
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00` : v.replace(" ", "T"));
    if (!Number.isNaN(t)) return t / 1000;
  }
  throw invalid(`invalid ${flag} "${value}": expected a timestamp (2024-01-02T15:04:05Z), unix seconds, or a duration such as 10m`);
}

export function register(parent: Command, name = "logs"): void {
  parent
    .command(`${name} <container>`)
    .description("Show a container's output")
    .option("-f, --follow", "follow the output until the container stops")
    .option("-n, --tail <n>", 'number of lines from the end, or "all"', "all")
    .option("--since <time>", "only lines since a timestamp, unix seconds, or duration (e.g. 10m)")
    .option("--until <time>", "only lines before a timestamp, unix seconds, or duration")
    .option("-t, --timestamps", "show timestamps")
    .action(async (ref: string, o: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean }, cmd: Command) => {
      const opts: LogsOptions = { stdout: process.stdout, stderr: process.stderr, follow: !!o.follow, timestamps: !!o.timestamps };
      if (o.tail !== "all") opts.tail = parseInteger("--tail", o.tail, 0);
      if (o.since !== undefined) opts.since = parseTimeArg("--since", o.since);
      if (o.until !== undefined) opts.until = parseTimeArg("--until", o.until);
      const { containers } = await engineFor(cmd);
      // Ctrl-C while following ends the command cleanly (130, as shells expect).
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.on("SIGINT", onSigint);
      try {
        await containers.logs(ref, { ...opts, signal: abort.signal });
      } finally {
        process.off("SIGINT", onSigint);
      }
      if (abort.signal.aborted) process.exitCode = 130;
    });
}
