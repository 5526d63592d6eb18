/**
 * Layer unpacking: one layer tar (plain, gzip or zstd) into its own overlay-ready snapshot dir.
 * The pull/load code calls applyLayer; the rest is exported for tests and tools.
 */
export { applyLayer, type ApplyOptions, type ApplyResult } from "./apply.js";
export { normalizeEntryPath, classifyWhiteout, type WhiteoutKind, OPAQUE_MARKER, WHITEOUT_PREFIX } from "./paths.js";
