/** Human sizes the way Docker prints them: decimal units, three significant digits. */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))}${units[i]}`;
}

export function humanAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "N/A";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "N/A";
  const s = Math.max(0, Math.round((now - t) / 1000));
  const steps: [number, string][] = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
    [4.35, "week"],
    [12, "month"],
    [Infinity, "year"],
  ];
  let v = s;
  for (const [n, unit] of steps) {
    if (v < n) {
      if (unit === "second" && v < 2) return "Less than a second ago";
      const r = Math.floor(v);
      return `${r} ${unit}${r === 1 ? "" : "s"} ago`;
    }
    v /= n;
  }
  return "N/A";
}

/** Left-aligned columns separated by at least three spaces, like Docker's tables. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3)))
      .join("")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

/**
 * The useful core of Go templates as Docker uses them: `{{.Field}}`, nested `{{.A.B}}`, `{{json .X}}`,
 * and `\t`/`\n` escapes. Strings print bare; anything else prints as JSON.
 */
export function renderTemplate(tpl: string, value: unknown): string {
  const text = tpl.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  return text.replace(/\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}/g, (_, json: string | undefined, path: string) => {
    let v: unknown = value;
    for (const k of path.split(".").filter(Boolean)) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
    if (json) return JSON.stringify(v ?? null);
    if (v === undefined || v === null) return "<no value>";
    return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
  });
}
