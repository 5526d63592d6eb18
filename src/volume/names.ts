import { invalid } from "../core/errors.js";
import { lazyCrypto } from "../core/lazy.js";

/** Docker's volume names: at least two characters, the first alphanumeric. */
export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkVolumeName(name: string): string {
  if (!VOLUME_NAME_RE.test(name)) throw invalid(`invalid volume name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters`);
  return name;
}

/** Names of anonymous volumes (and of `volume create` without a name): 64 hex digits, as Docker's. */
export function randomVolumeName(): string {
  return lazyCrypto().randomBytes(32).toString("hex");
}
