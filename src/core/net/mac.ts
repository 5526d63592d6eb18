/**
 * MAC addresses for container interfaces. A container keeps the same MAC on a network across restarts
 * and hosts (peers' neighbour caches and DHCP-like expectations of lab images stay valid), so it is derived
 * from (containerId, networkId) rather than drawn at random: 02 (locally administered, unicast) followed by
 * 40 bits of a 64-bit FNV-1a hash. The inputs are random IDs already, so a non-cryptographic hash spreads
 * them well enough, and it keeps node:crypto out of the start-up path.
 */
import { invalid } from "../errors.js";

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** 64-bit FNV-1a over the UTF-8 bytes of the text. */
export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(text)) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

const hex2 = (n: number | bigint) => n.toString(16).padStart(2, "0");

/** The stable MAC of a container on a network: "02:xx:xx:xx:xx:xx". */
export function stableMac(containerId: string, networkId: string): string {
  const h = fnv1a64(`${containerId}\0${networkId}`);
  const bytes = [2n];
  for (let s = 32n; s >= 0n; s -= 8n) bytes.push((h >> s) & 0xffn);
  return bytes.map(hex2).join(":");
}

const MAC_RE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;

/** Normalise a user MAC (`--mac-address`) to lower-case colon form; multicast addresses are refused. */
export function normalizeMac(text: string): string {
  const t = text.trim();
  if (!MAC_RE.test(t)) throw invalid(`invalid MAC address "${text}": expected six hex bytes as in 02:42:ac:11:00:02`);
  const mac = t.toLowerCase().replace(/-/g, ":");
  if (parseInt(mac.slice(0, 2), 16) & 1) throw invalid(`invalid MAC address "${text}": it is a multicast address (the lowest bit of the first byte is set)`);
  return mac;
}
