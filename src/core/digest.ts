import { lazyCrypto } from "./lazy.js";
import { invalid } from "./errors.js";

/** An OCI content digest, `algorithm:hex`. Only sha256 and sha512 are accepted, as the image spec registers. */
export type Digest = `${string}:${string}`;

const HEX_LEN: Record<string, number> = { sha256: 64, sha512: 128 };

export function parseDigest(s: string): Digest {
  const i = s.indexOf(":");
  const alg = i > 0 ? s.slice(0, i) : "";
  const hex = s.slice(i + 1);
  const want = HEX_LEN[alg];
  if (!want) throw invalid(`invalid digest "${s}": unsupported algorithm`);
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) throw invalid(`invalid digest "${s}": expected ${want} lowercase hex characters`);
  return s as Digest;
}

export function isDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(d: Digest): string {
  return d.slice(0, d.indexOf(":"));
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(":") + 1);
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${lazyCrypto().createHash("sha256").update(data).digest("hex")}`;
}

/** Chain IDs identify a stack of layers: chain(L0) = diffid(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diffid(Ln)). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}
