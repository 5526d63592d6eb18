import { invalid } from "../../core/errors.js";

/*
 * Pure path logic for layer extraction. No I/O here, so it is unit tested without root.
 *
 * Names in a tar are bytes, not text: a layer may hold file names that are not valid UTF-8 and they must
 * survive extraction unchanged (two distinct byte names must never collapse into one U+FFFD name). The
 * extractor therefore carries every name as a "byte string": a JS string decoded as latin1, one char per
 * byte. "/" and "." are the same byte in latin1 and UTF-8, so splitting and normalising work unchanged,
 * and `Buffer.from(s, "latin1")` gives back the exact bytes for fs calls.
 */

/** A byte string (latin1-decoded bytes) as readable text for error messages: UTF-8 where valid, quoted. */
export function displayName(byteStr: string): string {
  return JSON.stringify(Buffer.from(byteStr, "latin1").toString("utf8"));
}

/**
 * Split a tar entry name into clean components, relative to the layer root.
 * - leading "/" is ignored (absolute names are taken relative to the root, as Docker does);
 * - "" and "." components are dropped;
 * - ".." pops the previous component; popping past the root is an escape and is refused.
 * Returns [] for the root itself ("./", "/", ".").
 */
export function normalizeEntryPath(name: string): string[] {
  if (name.length === 0) throw invalid("layer entry has an empty name");
  if (name.includes("\0")) throw invalid(`layer entry ${displayName(name)} has a NUL byte in its name`);
  const out: string[] = [];
  for (const c of name.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length === 0) throw invalid(`layer entry ${displayName(name)} escapes the layer root`);
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";

export type WhiteoutKind =
  /** `.wh..wh..opq`: hide everything lower layers have in the containing dir. */
  | { kind: "opaque" }
  /** `.wh.<name>`: hide the sibling `<name>` of lower layers. */
  | { kind: "remove"; name: string }
  /** `.wh..wh.<other>`: AUFS bookkeeping (hardlink dirs and the like); meaningless here, skipped as Docker does. */
  | { kind: "ignore" };

/** Classify a base name as an OCI whiteout marker, or null for ordinary content. */
export function classifyWhiteout(base: string, entryName: string): WhiteoutKind | null {
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  if (base === OPAQUE_MARKER) return { kind: "opaque" };
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return { kind: "ignore" };
  const name = base.slice(WHITEOUT_PREFIX.length);
  // ".wh.", ".wh.." and ".wh..." would name the containing dir or its parent: obeying them would let a
  // layer erase a whole tree above the marker. The spec gives them no meaning; refuse them.
  if (name === "" || name === "." || name === "..") throw invalid(`layer entry ${displayName(entryName)} is a malformed whiteout`);
  return { kind: "remove", name };
}

/** Quote a byte string for POSIX sh: single quotes, with embedded quotes as '\''. Any byte is safe inside. */
export function shQuote(byteStr: string): string {
  return "'" + byteStr.replace(/'/g, "'\\''") + "'";
}

/**
 * Escape a byte string for a `# file:` line of getfattr's dump format, which `setfattr --restore` reads:
 * every byte outside printable ASCII, plus space, backslash and '"', becomes a three-digit octal escape.
 */
export function escapeDumpPath(byteStr: string): string {
  let out = "";
  for (let i = 0; i < byteStr.length; i++) {
    const c = byteStr.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x22) out += "\\" + c.toString(8).padStart(3, "0");
    else out += byteStr[i];
  }
  return out;
}

/** Xattr names we pass to setfattr: printable ASCII without '=', quotes, backslash or space, in a known namespace. */
export function isAcceptableXattrName(name: string): boolean {
  if (!/^(user|security|trusted|system)\.[\x21-\x7e]+$/.test(name)) return false;
  return !/[="\\]/.test(name) && name.length <= 255;
}

/** overlayfs reads trusted.overlay.* (opaque, redirect, metacopy, ...): a layer must never set them itself. */
export function isOverlayPrivateXattr(name: string): boolean {
  return name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.");
}
