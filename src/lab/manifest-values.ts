/**
 * Parsers of single manifest values (sizes, modes, endpoints, binds, names). Each throws BadValue with a
 * message that quotes the value; the schema adds the field path in front.
 */
import { MIN_MEMORY } from "../core/spec/resources.js";
import { show, type FieldPath } from "./manifest-error.js";

/** A value that does not fit its field; `path` is relative to the field (a list index, a map key). */
export class BadValue extends Error {
  readonly path: FieldPath;
  constructor(message: string, path: FieldPath = []) {
    super(message);
    this.path = path;
  }
}

const fail = (message: string, path?: FieldPath): never => {
  throw new BadValue(message, path);
};

export const MISSING = "missing (this field is required)";

// ---- names --------------------------------------------------------------------------------------

/**
 * 32 characters: the lab name is a prefix of every container name (`${lab}-${node}`, at most 63 so it is
 * a valid hostname and DNS label) and of the management network's name, so a short cap leaves room for
 * node names while still allowing descriptive lab names.
 */
export const MAX_LAB_NAME = 32;
export const LAB_NAME_RE = /^[a-z0-9][a-z0-9-]*$/;
export const NODE_NAME_RE = /^[a-z0-9][a-z0-9-]*$/;
export const BRIDGE_NAME_RE = /^[a-z0-9][a-z0-9-]*$/;
/** Bridge names only label a segment (the host device name is derived), so the cap is for display. */
export const MAX_BRIDGE_NAME = 32;

export function labName(v: unknown): string {
  const s = str(v);
  if (!LAB_NAME_RE.test(s) || s.length > MAX_LAB_NAME) fail(`invalid lab name ${show(s)}: 1 to ${MAX_LAB_NAME} characters of a-z, 0-9 and -, starting with a letter or digit`);
  return s;
}

export function nodeName(v: unknown): string {
  const s = str(v);
  if (!NODE_NAME_RE.test(s)) fail(`invalid node name ${show(s)}: a-z, 0-9 and -, starting with a letter or digit`);
  return s;
}

export function bridgeName(v: unknown): string {
  const s = str(v);
  if (!BRIDGE_NAME_RE.test(s) || s.length > MAX_BRIDGE_NAME) fail(`invalid bridge name ${show(s)}: 1 to ${MAX_BRIDGE_NAME} characters of a-z, 0-9 and -, starting with a letter or digit`);
  return s;
}

// ---- scalars ------------------------------------------------------------------------------------

export function str(v: unknown): string {
  if (v === undefined) fail(MISSING);
  if (typeof v !== "string") fail(`expected a string, got ${show(v)}`);
  if ((v as string).trim() === "") fail(`must not be empty, got ${show(v)}`);
  return v as string;
}

/** A user or group: a name, or a numeric id (YAML reads `owner: 0` as a number). */
export function nameOrId(v: unknown): string {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) fail(`expected a name or a numeric id, got ${show(v)}`);
    return String(v);
  }
  return str(v);
}

export function bool(v: unknown): boolean {
  if (typeof v !== "boolean") fail(`expected true or false, got ${show(v)}`);
  return v as boolean;
}

export function integer(v: unknown, min = 0): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(`expected a whole number, got ${show(v)}`);
  if ((v as number) < min) fail(`expected at least ${min}, got ${show(v)}`);
  return v as number;
}

export function positiveNumber(v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) fail(`expected a number above 0, got ${show(v)}`);
  return v as number;
}

// ---- sizes and modes ----------------------------------------------------------------------------

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(?:(b)|([kmgtp])(i?b)?)?$/i;
const POWERS: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

/** Bytes, or "256MiB", "1GiB", "512M", "1.5g": binary units whatever the spelling, as Docker reads them. */
export function size(v: unknown, minimum = 1): number {
  let bytes: number | undefined;
  if (typeof v === "number") bytes = Number.isSafeInteger(v) ? v : undefined;
  else if (typeof v === "string") bytes = sizeFromText(v);
  if (bytes === undefined || bytes < 1) fail(`invalid size ${show(v)}: expected bytes or a size such as 256MiB, 1GiB or 512M`);
  if ((bytes as number) < minimum) fail(`invalid size ${show(v)}: the minimum is ${formatBytes(minimum)}`);
  return bytes as number;
}

function sizeFromText(text: string): number | undefined {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  const unit = m[3]?.toLowerCase();
  const bytes = Math.floor(Number(m[1]) * 1024 ** (unit ? POWERS[unit]! : 0));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function formatBytes(n: number): string {
  for (const [u, p] of [["GiB", 3], ["MiB", 2], ["KiB", 1]] as const) if (n % 1024 ** p === 0) return `${n / 1024 ** p}${u}`;
  return `${n} bytes`;
}

export const memory = (v: unknown): number => size(v, MIN_MEMORY);

const MODE_RE = /^(?:0o?)?([0-7]{3,4})$/;

/**
 * An octal file mode written as a string ("0640"). A YAML number is refused: YAML 1.2 reads an unquoted
 * 0640 as the decimal 640, and guessing which was meant would silently give the wrong permissions.
 */
export function mode(v: unknown): number {
  if (typeof v === "number") fail(`invalid mode ${show(v)}: quote the octal mode, as in "0640" (YAML reads an unquoted 0640 as the decimal number 640)`);
  const m = typeof v === "string" ? MODE_RE.exec(v.trim()) : null;
  if (!m) fail(`invalid mode ${show(v)}: expected an octal mode such as "0640"`);
  return parseInt(m![1]!, 8);
}

// ---- lists and maps -----------------------------------------------------------------------------

/** A list whose items each go through `item`; an item's error carries its index. */
export function list<T>(v: unknown, item: (x: unknown) => T): T[] {
  if (!Array.isArray(v)) fail(`expected a list, got ${show(v)}`);
  return (v as unknown[]).map((x, i) => {
    try {
      return item(x);
    } catch (e) {
      if (e instanceof BadValue) throw new BadValue(e.message, [i, ...e.path]);
      throw e;
    }
  });
}

/** Command arguments: any string, even empty. */
export function arg(v: unknown): string {
  if (typeof v !== "string") fail(`expected a string, got ${show(v)}`);
  return v as string;
}

const SCALAR = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/**
 * `{KEY: value}` or `["KEY=value"]` (both spellings are common in compose files); numbers and booleans
 * become their text. Keys are checked by `key`.
 */
export function keyValues(v: unknown, key: (k: string) => string | undefined): Record<string, string> {
  if (Array.isArray(v)) return Object.fromEntries(list(v, (x) => splitPair(x, key)));
  if (v === null || typeof v !== "object") fail(`expected a mapping of KEY: value, got ${show(v)}`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as object)) {
    const why = key(k);
    if (why) fail(`invalid key ${show(k)}: ${why}`, [k]);
    if (!SCALAR(val)) fail(`expected a string, number or boolean, got ${show(val)}`, [k]);
    out[k] = String(val);
  }
  return out;
}

function splitPair(x: unknown, key: (k: string) => string | undefined): [string, string] {
  const s = str(x);
  const eq = s.indexOf("=");
  if (eq < 0) fail(`expected KEY=value, got ${show(s)}`);
  const k = s.slice(0, eq);
  const why = key(k);
  if (why) fail(`invalid key ${show(k)}: ${why}`);
  return [k, s.slice(eq + 1)];
}

export const envKey = (k: string): string | undefined => (k === "" || k.includes("=") || k.includes("\0") ? "an environment variable name is not empty and has no = or NUL" : undefined);

const SYSCTL_KEY = /^[a-z0-9_][a-z0-9_.\/-]*$/i;
export const sysctlKey = (k: string): string | undefined => (SYSCTL_KEY.test(k) ? undefined : "expected a sysctl name such as net.ipv4.ip_forward");

// ---- paths, binds, endpoints --------------------------------------------------------------------

/** An absolute path inside the container, not "/" and without ".." (files must land where they say). */
export function containerPath(v: unknown): string {
  const s = str(v);
  if (!s.startsWith("/")) fail(`invalid container path ${show(s)}: it must be absolute`);
  if (s.replace(/\/+$/, "") === "") fail(`invalid container path ${show(s)}: it cannot be "/"`);
  if (s.split("/").includes("..")) fail(`invalid container path ${show(s)}: ".." is not allowed`);
  return s;
}

const BIND_OPTIONS = new Set(["ro", "rw", "z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave"]);

/** "HOST:CONTAINER[:OPTIONS]"; HOST may be relative (to the manifest's folder), so it is never a volume name. */
export function bind(v: unknown): string {
  const s = str(v);
  const parts = s.split(":");
  const bad = (why: string) => fail(`invalid bind ${show(s)}: ${why}`);
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) bad("expected HOST:CONTAINER[:ro], as in data:/data");
  const dest = parts[1]!;
  if (!dest.startsWith("/") || dest.replace(/\/+$/, "") === "") bad(`the container path ${show(dest)} must be absolute and not "/"`);
  for (const opt of parts[2]?.split(",") ?? []) if (!BIND_OPTIONS.has(opt)) bad(`unknown option ${show(opt)} (expected ro, rw or a propagation such as rshared)`);
  return s;
}

/** The two parts of "NODE:INTERFACE"; the interface is resolved against the node's model by the planner. */
export interface EndpointSpec {
  node: string;
  interface: string;
}

export function endpoint(v: unknown): EndpointSpec {
  const s = str(v);
  const colon = s.indexOf(":");
  const node = s.slice(0, colon);
  const iface = s.slice(colon + 1);
  if (colon < 0 || iface === "" || /\s/.test(iface)) fail(`invalid endpoint ${show(s)}: expected NODE:INTERFACE, as in r1:eth1`);
  if (!NODE_NAME_RE.test(node)) fail(`invalid endpoint ${show(s)}: ${show(node)} is not a node name`);
  return { node, interface: iface };
}

/** A field that may not be set here; `why` says where it belongs. */
export function forbidden(why: string): (v: unknown) => undefined {
  return (v) => (v === undefined ? undefined : fail(why));
}
