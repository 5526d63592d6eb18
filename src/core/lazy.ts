/**
 * Builtins that cost start-up time (crypto pulls in webcrypto, x509 and friends) are fetched on first
 * use, so that quick commands such as `berth images` never load them.
 */
export const lazyCrypto = (): typeof import("node:crypto") => process.getBuiltinModule("node:crypto");
