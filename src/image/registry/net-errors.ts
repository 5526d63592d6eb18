/**
 * Classification of the errors undici / node:net / node:tls throw. They nest (`cause`) and aggregate
 * (`errors`, when several addresses were tried), so every check walks the whole tree.
 */
function* errorTree(e: unknown, depth = 0): Generator<{ code?: string; message?: string }> {
  if (!e || typeof e !== "object" || depth > 6) return;
  const o = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  yield { code: typeof o.code === "string" ? o.code : undefined, message: typeof o.message === "string" ? o.message : undefined };
  if (o.cause) yield* errorTree(o.cause, depth + 1);
  if (Array.isArray(o.errors)) for (const x of o.errors) yield* errorTree(x, depth + 1);
}

function anyCode(e: unknown, codes: ReadonlySet<string>): string | undefined {
  for (const x of errorTree(e)) if (x.code && codes.has(x.code)) return x.code;
  return undefined;
}

function anyMessage(e: unknown, re: RegExp): string | undefined {
  for (const x of errorTree(e)) if (x.message && re.test(x.message)) return x.message;
  return undefined;
}

export function isConnRefused(e: unknown): boolean {
  return anyCode(e, new Set(["ECONNREFUSED"])) !== undefined;
}

export function isHostNotFound(e: unknown): boolean {
  return anyCode(e, new Set(["ENOTFOUND", "EAI_NONAME", "EAI_FAIL"])) !== undefined;
}

const TLS_MISMATCH_CODES = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG", "ERR_SSL_HTTP_REQUEST", "ERR_SSL_UNKNOWN_PROTOCOL"]);
const TLS_MISMATCH_MSG = /wrong version number|packet length too long|unknown protocol|record layer failure/i;

/** The peer answered the TLS ClientHello with something that is not TLS (typically a plain HTTP server's 400). */
export function isTlsProtocolMismatch(e: unknown): boolean {
  return anyCode(e, TLS_MISMATCH_CODES) !== undefined || anyMessage(e, TLS_MISMATCH_MSG) !== undefined;
}

const CERT_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** A certificate verification failure: returns the reason (node's message), or undefined. */
export function certificateError(e: unknown): { code: string; reason: string } | undefined {
  for (const x of errorTree(e)) if (x.code && CERT_CODES.has(x.code)) return { code: x.code, reason: x.message ?? x.code };
  return undefined;
}

const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** Transient network failures worth retrying (connection refused is not: nothing is listening). */
export function isRetryableNetError(e: unknown): boolean {
  return anyCode(e, RETRYABLE_CODES) !== undefined || anyMessage(e, /other side closed|socket hang up|terminated/i) !== undefined;
}

export function shortReason(e: unknown): string {
  for (const x of errorTree(e)) if (x.code) return `${x.message ?? x.code}`.split("\n")[0]!;
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}
