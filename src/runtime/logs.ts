import { promises as fsp, watch, type FSWatcher } from "node:fs";
import type { Writable } from "node:stream";

/** One record of conmon's k8s-file log: `2024-01-02T03:04:05.123456789+00:00 stdout F text`. */
export interface LogRecord {
  time: string;
  /** Unix seconds with fraction. */
  seconds: number;
  stream: "stdout" | "stderr";
  /** P: the line continues in the next record; F: the record ends a line. */
  partial: boolean;
  text: string;
}

export function parseLogLine(line: string): LogRecord | null {
  const a = line.indexOf(" ");
  const b = line.indexOf(" ", a + 1);
  const c = line.indexOf(" ", b + 1);
  if (a < 0 || b < 0) return null;
  const stream = line.slice(a + 1, b);
  if (stream !== "stdout" && stream !== "stderr") return null;
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  const time = line.slice(0, a);
  return { time, seconds: toSeconds(time), stream, partial: tag.split(":").includes("P"), text: c < 0 ? "" : line.slice(c + 1) };
}

/** RFC 3339 with nanoseconds -> seconds; Date only parses milliseconds, keep the rest. */
export function toSeconds(time: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(time);
  if (!m) return NaN;
  const base = Date.parse(m[1]! + (m[3] || "Z")) / 1000;
  return base + (m[2] ? Number(`0.${m[2]}`) : 0);
}

export interface LogReadOptions {
  tail?: number;
  since?: number;
  until?: number;
  timestamps?: boolean;
  stdout: Writable;
  stderr: Writable;
}

/** Turn records into output: complete lines get their newline back; -t prefixes each line's start. */
class Emitter {
  private midLine = { stdout: false, stderr: false };
  constructor(private readonly o: LogReadOptions) {}

  emit(r: LogRecord): void {
    if (this.o.since !== undefined && r.seconds < this.o.since) return;
    if (this.o.until !== undefined && r.seconds > this.o.until) return;
    const out = r.stream === "stdout" ? this.o.stdout : this.o.stderr;
    const prefix = this.o.timestamps && !this.midLine[r.stream] ? `${r.time} ` : "";
    out.write(prefix + r.text + (r.partial ? "" : "\n"));
    this.midLine[r.stream] = r.partial;
  }
}

/** The records of the last `n` lines (a line may span several partial records). */
export function tailRecords(records: LogRecord[], n: number): LogRecord[] {
  if (n <= 0) return [];
  let lines = 0;
  for (let i = records.length - 1; i >= 0; i--) {
    if (!records[i]!.partial) {
      lines++;
      if (lines > n) return records.slice(i + 1);
    }
  }
  return records;
}

/**
 * Print a container's log and, while `follow` says so, what gets appended. Resolves when the log is printed
 * and, when following, `done` has settled and the rest has been read.
 */
export async function readLog(path: string, o: LogReadOptions, follow?: { done: Promise<unknown>; signal?: AbortSignal }): Promise<void> {
  const em = new Emitter(o);
  let fh: fsp.FileHandle | undefined;
  let finishedEarly = false;
  const settle = (f: () => void) => follow?.done.then(f, f);
  void settle(() => {
    finishedEarly = true;
  });
  // conmon creates the log when it starts the container: a follower may have to wait for it.
  while (!fh) {
    try {
      fh = await fsp.open(path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      if (!follow || finishedEarly || follow.signal?.aborted) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  try {
    let pos = 0;
    let rest = "";
    const readMore = async (): Promise<LogRecord[]> => {
      const recs: LogRecord[] = [];
      const buf = Buffer.allocUnsafe(256 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        rest += buf.subarray(0, bytesRead).toString("utf8");
        const lines = rest.split("\n");
        rest = lines.pop()!;
        for (const l of lines) {
          const r = parseLogLine(l);
          if (r) recs.push(r);
        }
      }
      return recs;
    };
    let first = await readMore();
    if (o.tail !== undefined) first = tailRecords(first, o.tail);
    first.forEach((r) => em.emit(r));
    if (!follow) return;
    let finished = false;
    let watcher: FSWatcher | undefined;
    let wake: (() => void) | undefined;
    // One listener each for the whole follow (not one per wait: they would pile up).
    void settle(() => {
      finished = true;
      wake?.();
    });
    const onAbort = () => wake?.();
    follow.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      watcher = watch(path, () => wake?.());
    } catch {
      /* polling below still works */
    }
    try {
      while (!follow.signal?.aborted) {
        (await readMore()).forEach((r) => em.emit(r));
        if (finished) {
          (await readMore()).forEach((r) => em.emit(r));
          return;
        }
        await new Promise<void>((res) => {
          const t = setTimeout(res, 250);
          wake = () => {
            clearTimeout(t);
            res();
          };
        });
        wake = undefined;
      }
    } finally {
      watcher?.close();
      follow.signal?.removeEventListener("abort", onAbort);
    }
  } finally {
    await fh.close();
  }
}
