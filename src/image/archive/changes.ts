import { posix } from "node:path";
import { invalid } from "../../core/errors.js";

/** The part of an image config's `config` object that `import --change` can set. */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

const SUPPORTED = ["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "VOLUME", "WORKDIR", "STOPSIGNAL"];

/**
 * Split Dockerfile-style words: whitespace separates, single and double quotes group, backslash escapes
 * (inside double quotes and unquoted). Quotes are removed, as the Dockerfile parser does.
 */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) out.push(cur);
  return out;
}

/** KEY=VALUE pairs (ENV, LABEL); the legacy `ENV KEY value with spaces` form when the first word has no "=". */
function pairs(value: string, legacy: boolean): [string, string][] {
  const trimmed = value.trim();
  const firstWord = trimmed.split(/\s+/)[0] ?? "";
  if (legacy && !firstWord.includes("=")) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(trimmed);
    if (!m) throw new Error("expected KEY=VALUE or KEY VALUE");
    return [[m[1]!, m[2]!]];
  }
  const words = splitWords(trimmed);
  if (words.length > 1 && words[0]!.indexOf("=") > 0 && words.slice(1).every((w) => !w.includes("="))) {
    // "K=two words": one pair whose unquoted value has spaces (berth's KEY=VALUE spelling invites it).
    const eq = trimmed.indexOf("=");
    return [[trimmed.slice(0, eq), trimmed.slice(eq + 1)]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new Error(`"${w}" is not KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** CMD and ENTRYPOINT: a JSON array of strings (exec form) or a shell string run by /bin/sh -c. */
function command(value: string): string[] {
  const v = value.trim();
  if (v.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new Error("not a valid JSON array");
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === "string")) throw new Error("the JSON form must be an array of strings");
    return parsed;
  }
  return ["/bin/sh", "-c", v];
}

function ports(value: string): string[] {
  const out: string[] = [];
  for (const w of splitWords(value)) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m) throw new Error(`"${w}" is not PORT[-PORT][/PROTO]`);
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    if (lo < 1 || hi > 65535 || hi < lo) throw new Error(`port range "${w}" is out of range`);
    if (hi - lo >= 1024) throw new Error(`port range "${w}" is too large`);
    for (let p = lo; p <= hi; p++) out.push(`${p}/${(m[3] ?? "tcp").toLowerCase()}`);
  }
  return out;
}

export type ConfigChange = (c: ContainerConfig) => void;

/** Parse one change ("CMD=...", or Docker's "CMD ..." spelling) into a function applying it. */
export function parseChange(change: string): ConfigChange {
  const m = /^\s*([A-Za-z]+)\s*(?:=|\s)([\s\S]*)$/.exec(change);
  const fail = (why: string) => invalid(`invalid change "${change}": ${why}`);
  if (!m) throw fail(`expected INSTRUCTION=VALUE with one of ${SUPPORTED.join(", ")}`);
  const key = m[1]!.toUpperCase();
  const value = m[2]!;
  if (!SUPPORTED.includes(key)) throw fail(`unsupported instruction "${m[1]}" (supported: ${SUPPORTED.join(", ")})`);
  if (!value.trim()) throw fail(`${key} needs a value`);
  try {
    switch (key) {
      case "CMD": {
        const cmd = command(value);
        return (c) => void (c.Cmd = cmd);
      }
      case "ENTRYPOINT": {
        const ep = command(value);
        return (c) => void (c.Entrypoint = ep);
      }
      case "ENV": {
        const kv = pairs(value, true);
        return (c) => {
          const env = [...(c.Env ?? [])];
          for (const [k, v] of kv) {
            const i = env.findIndex((e) => e === k || e.startsWith(`${k}=`));
            if (i >= 0) env[i] = `${k}=${v}`;
            else env.push(`${k}=${v}`);
          }
          c.Env = env;
        };
      }
      case "LABEL": {
        const kv = pairs(value, false);
        return (c) => void (c.Labels = { ...c.Labels, ...Object.fromEntries(kv) });
      }
      case "EXPOSE": {
        const ps = ports(value);
        return (c) => void (c.ExposedPorts = { ...c.ExposedPorts, ...Object.fromEntries(ps.map((p) => [p, {}])) });
      }
      case "VOLUME": {
        const v = value.trim();
        const paths = v.startsWith("[") ? command(v) : splitWords(v);
        for (const p of paths) if (!p.startsWith("/")) throw new Error(`volume path "${p}" must be absolute`);
        return (c) => void (c.Volumes = { ...c.Volumes, ...Object.fromEntries(paths.map((p) => [p, {}])) });
      }
      case "WORKDIR": {
        const dir = value.trim();
        return (c) => void (c.WorkingDir = posix.resolve(c.WorkingDir || "/", dir));
      }
      case "USER": {
        const user = value.trim();
        if (/\s/.test(user)) throw new Error("must be a single word: USER[:GROUP] or UID[:GID]");
        return (c) => void (c.User = user);
      }
      case "STOPSIGNAL": {
        const sig = value.trim().toUpperCase();
        if (!/^(SIG)?[A-Z0-9+-]+$/.test(sig)) throw new Error("not a signal name or number");
        return (c) => void (c.StopSignal = sig);
      }
    }
  } catch (e) {
    throw fail((e as Error).message);
  }
  /* c8 ignore next */
  throw fail("unsupported instruction");
}

/** Validate every change first (nothing is applied when one is bad), then apply them in order. */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const fns = changes.map(parseChange);
  const c: ContainerConfig = structuredClone(base);
  for (const f of fns) f(c);
  return c;
}
