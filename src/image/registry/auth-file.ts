/**
 * Credentials in Docker's config.json "auths" format: { "auths": { "<host[:port]>": { "auth": base64("user:pass") } } }.
 * berth writes its own file (0600, directories 0700) and also reads ~/.docker/config.json as a fallback.
 * Nothing here logs or puts a secret in an error message.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { invalid, notFound } from "../../core/errors.js";

export interface Credentials {
  username: string;
  password: string;
}

/** ${XDG_CONFIG_HOME:-$HOME/.config}/berth/auth.json */
export function defaultAuthFile(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  const base = xdg && xdg.startsWith("/") ? xdg : join(process.env.HOME || homedir(), ".config");
  return join(base, "berth", "auth.json");
}

export function dockerConfigFile(): string {
  return join(process.env.HOME || homedir(), ".docker", "config.json");
}

const DOCKER_IO_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

/** "https://index.docker.io/v1/" -> "docker.io"; "http://host:5000/v2/" -> "host:5000". */
export function normalizeAuthKey(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, "");
  const slash = k.indexOf("/");
  if (slash >= 0) k = k.slice(0, slash);
  k = k.toLowerCase();
  return DOCKER_IO_ALIASES.has(k) ? "docker.io" : k;
}

type AuthDoc = { auths?: Record<string, { auth?: string; username?: string; password?: string } | undefined> } & Record<string, unknown>;

/** Parse an auth file; undefined when it does not exist. A malformed file is an error naming the file. */
export function readAuthFile(path: string): AuthDoc | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw invalid(`cannot read auth file ${path}: ${(e as Error).message}`);
  }
  if (!text.trim()) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid(`auth file ${path} is not valid JSON`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw invalid(`auth file ${path} is not a JSON object`);
  const auths = (doc as AuthDoc).auths;
  if (auths !== undefined && (typeof auths !== "object" || auths === null || Array.isArray(auths))) throw invalid(`auth file ${path}: "auths" is not an object`);
  return doc as AuthDoc;
}

function decodeEntry(e: { auth?: string; username?: string; password?: string } | undefined): Credentials | undefined {
  if (!e || typeof e !== "object") return undefined;
  if (typeof e.auth === "string" && e.auth) {
    const dec = Buffer.from(e.auth, "base64").toString("utf8");
    const i = dec.indexOf(":");
    if (i <= 0) return undefined;
    return { username: dec.slice(0, i), password: dec.slice(i + 1) };
  }
  if (typeof e.username === "string" && typeof e.password === "string" && e.username) return { username: e.username, password: e.password };
  return undefined;
}

/** Find credentials for `domain` in one parsed file: the exact key first, then any key that normalises to it. */
export function findCredentials(doc: AuthDoc | undefined, domain: string): Credentials | undefined {
  const auths = doc?.auths;
  if (!auths) return undefined;
  const exact = decodeEntry(auths[domain]);
  if (exact) return exact;
  const want = normalizeAuthKey(domain);
  for (const [k, v] of Object.entries(auths)) if (normalizeAuthKey(k) === want) {
    const c = decodeEntry(v);
    if (c) return c;
  }
  return undefined;
}

/** Look credentials up in each file in order; the first hit wins. */
export function lookupCredentials(domain: string, files: readonly string[]): Credentials | undefined {
  for (const f of files) {
    const c = findCredentials(readAuthFile(f), domain);
    if (c) return c;
  }
  return undefined;
}

function writeAuthDoc(path: string, doc: AuthDoc): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(doc, null, "\t") + "\n", { mode: 0o600 });
    chmodSync(tmp, 0o600); // umask may have narrowed it further; never wider
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Store credentials for `domain` (keys that normalise to the same registry are replaced). */
export function storeCredentials(path: string, domain: string, creds: Credentials): void {
  const doc: AuthDoc = readAuthFile(path) ?? {};
  const auths = { ...(doc.auths ?? {}) };
  const want = normalizeAuthKey(domain);
  for (const k of Object.keys(auths)) if (normalizeAuthKey(k) === want) delete auths[k];
  auths[domain] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64") };
  writeAuthDoc(path, { ...doc, auths });
}

/** Remove credentials for `domain`; NOT_FOUND when there were none. */
export function removeCredentials(path: string, domain: string): void {
  const doc = readAuthFile(path);
  const auths = { ...(doc?.auths ?? {}) };
  const want = normalizeAuthKey(domain);
  const keys = Object.keys(auths).filter((k) => k === domain || normalizeAuthKey(k) === want);
  if (!doc || keys.length === 0) throw notFound(`not logged in to ${domain} (no credentials in ${path})`);
  for (const k of keys) delete auths[k];
  writeAuthDoc(path, { ...doc, auths });
}
