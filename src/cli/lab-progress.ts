import type { LabEvent } from "../engine/labs.js";

export interface LabRenderer {
  onEvent(e: LabEvent): void;
  stop(): void;
}

/**
 * On a terminal: one line per node, redrawn in place as its step changes (so 200 nodes show where each
 * one is, not a scroll of 1000 lines). Elsewhere: one line per event, for logs.
 */
export function labRenderer(out: NodeJS.WriteStream, quiet = false): LabRenderer {
  if (quiet) return { onEvent() {}, stop() {} };
  return out.isTTY ? new TtyRenderer(out) : new LineRenderer(out);
}

const describe = (e: LabEvent) => `${e.step}${e.message ? `: ${e.message}` : ""}`;

class LineRenderer implements LabRenderer {
  constructor(private readonly out: NodeJS.WritableStream) {}
  onEvent(e: LabEvent): void {
    this.out.write(`${e.node ? `${e.node}: ` : ""}${describe(e)}\n`);
  }
  stop(): void {}
}

class TtyRenderer implements LabRenderer {
  private readonly nodes = new Map<string, string>();
  private readonly notes: string[] = [];
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly out: NodeJS.WriteStream) {}

  onEvent(e: LabEvent): void {
    if (e.node) this.nodes.set(e.node, describe(e));
    else this.notes.push(describe(e));
    // Coalesce redraws: a 200-node deploy emits about a thousand events.
    this.timer ??= setTimeout(() => this.draw(), 50);
  }

  private draw(): void {
    this.timer = undefined;
    const width = Math.max(...[...this.nodes.keys()].map((k) => k.length), 4);
    // A pseudo-terminal nobody sized reports 0 columns.
    const cols = this.out.columns || 200;
    const lines = [...this.notes.splice(0).map((n) => n.slice(0, cols - 1))];
    const rows = [...this.nodes].map(([n, s]) => `${n.padEnd(width)}  ${s}`.slice(0, cols - 1));
    // Move up over the previous node table, print new notes above it, then the table again.
    let s = this.drawn ? `\x1b[${this.drawn}F` : "";
    s += [...lines, ...rows].map((l) => `\x1b[2K${l}\n`).join("");
    this.out.write(s);
    this.drawn = rows.length;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.draw();
  }
}
