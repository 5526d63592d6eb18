/**
 * One-line manifest errors: "lab manifest tri.yml: nodes.r1.memory: invalid size "12XB"". The field path
 * and the offending value are what a user needs to find the line; both the parser and the planner use
 * this, so a user sees one format whichever stage refused the file.
 */
import { invalid, type BerthError } from "../core/errors.js";

export type FieldPath = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** ["links", 0, "endpoints", 1] -> "links[0].endpoints[1]"; keys with dots are bracketed (sysctls["net.ipv4.ip_forward"]). */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

const MAX_SHOWN = 60;

/** A value as the user wrote it, quoted when a string, kept to one short line. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  let text: string;
  try {
    text = typeof value === "bigint" ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  text = text.replace(/\n/g, "\\n");
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

/** "lab manifest" or "lab manifest FILE". */
export function manifestLabel(file?: string): string {
  return file ? `lab manifest ${file}` : "lab manifest";
}

/** An INVALID_ARGUMENT error naming the manifest, the field path (if any) and what is wrong. */
export function manifestError(file: string | undefined, path: FieldPath | string, message: string): BerthError {
  const where = typeof path === "string" ? path : formatPath(path);
  return invalid(`${manifestLabel(file)}: ${where ? `${where}: ` : ""}${message}`);
}

/** Throws the manifest error for a field; the planner's stages take one so they need not know the file. */
export type Fail = (path: FieldPath | string, message: string) => never;

export function failFor(file: string | undefined): Fail {
  return (path, message) => {
    throw manifestError(file, path, message);
  };
}
