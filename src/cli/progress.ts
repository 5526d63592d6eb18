import cliProgress from "cli-progress";
import type { PullEvent } from "../image/pull.js";
import { humanSize, shortId } from "./format.js";

const LABEL: Record<string, string> = {
  waiting: "Waiting",
  exists: "Already exists",
  downloading: "Downloading",
  extracting: "Extracting",
  verifying: "Verifying",
  done: "Pull complete",
};

export interface PullRenderer {
  onEvent(e: PullEvent): void;
  stop(): void;
}

/**
 * On a terminal: one bar per layer with bytes and speed, as Docker shows. Elsewhere: one line per layer
 * status change, so logs stay readable and never fill with carriage returns.
 */
export function pullRenderer(out: NodeJS.WriteStream, quiet: boolean): PullRenderer {
  if (quiet) return { onEvent() {}, stop() {} };
  return out.isTTY ? new BarRenderer(out) : new LineRenderer(out);
}

class LineRenderer implements PullRenderer {
  constructor(private readonly out: NodeJS.WritableStream) {}
  onEvent(e: PullEvent): void {
    if (e.type === "resolved") this.out.write(`Resolved ${e.reference} to ${e.digest} (${e.platform})\n`);
    else if (e.type === "layer") this.out.write(`${shortId(e.digest)}: ${LABEL[e.status]}${e.status === "downloading" ? ` ${humanSize(e.size)}` : ""}\n`);
  }
  stop(): void {}
}

interface BarState {
  bar: cliProgress.SingleBar;
  start: number;
  status: string;
}

class BarRenderer implements PullRenderer {
  private readonly multi: cliProgress.MultiBar;
  private readonly bars = new Map<string, BarState>();
  constructor(out: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream: out,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        fps: 10,
        barsize: 30,
        autopadding: true,
        format: (opts, params, payload: { id: string; status: string; speed: string }) => {
          const size = opts.barsize ?? 30;
          const filled = Math.round(params.progress * size);
          const bar = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 && filled < size ? ">" : filled === size ? "=" : "") + " ".repeat(size - filled);
          const bytes = params.total > 0 ? `${humanSize(params.value)}/${humanSize(params.total)}` : "";
          return `${payload.id}: ${payload.status.padEnd(14)} [${bar}] ${bytes.padEnd(17)} ${payload.speed}`;
        },
      },
      cliProgress.Presets.legacy,
    );
  }

  onEvent(e: PullEvent): void {
    if (e.type === "resolved") {
      this.multi.log(`Resolved ${e.reference} to ${e.digest} (${e.platform})\n`);
      return;
    }
    if (e.type === "done") return;
    let s = this.bars.get(e.digest);
    if (!s) {
      const total = e.type === "layer" ? e.size : e.total;
      s = { bar: this.multi.create(total, 0, { id: shortId(e.digest), status: "Waiting", speed: "" }), start: Date.now(), status: "Waiting" };
      this.bars.set(e.digest, s);
    }
    if (e.type === "layer") {
      s.status = LABEL[e.status]!;
      if (e.status === "downloading") s.start = Date.now();
      const final = e.status === "exists" || e.status === "done";
      s.bar.update(final ? e.size : s.bar.getProgress() * e.size, { status: s.status, ...(final ? { speed: "" } : {}) });
    } else {
      const secs = Math.max(0.001, (Date.now() - s.start) / 1000);
      s.bar.update(e.current, { status: s.status, speed: `${humanSize(e.current / secs)}/s` });
    }
  }

  stop(): void {
    this.multi.stop();
  }
}
