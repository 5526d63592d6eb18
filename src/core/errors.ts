/**
 * One error type for the whole engine. Subsystems throw BerthError with a code;
 * only the edges (CLI, HTTP API) translate codes into exit statuses or HTTP statuses.
 */
export type ErrorCode =
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "CONFLICT"
  | "INVALID_ARGUMENT"
  | "FAILED_PRECONDITION"
  | "PERMISSION_DENIED"
  | "UNAVAILABLE"
  | "INTERNAL";

export class BerthError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "BerthError";
  }
}

/** Docker's conventions: 125 is "the engine itself failed"; 126/127 are reserved for exec errors. */
const TABLE: Record<ErrorCode, { exit: number; http: number }> = {
  NOT_FOUND: { exit: 125, http: 404 },
  ALREADY_EXISTS: { exit: 125, http: 409 },
  CONFLICT: { exit: 125, http: 409 },
  INVALID_ARGUMENT: { exit: 125, http: 400 },
  FAILED_PRECONDITION: { exit: 125, http: 412 },
  PERMISSION_DENIED: { exit: 125, http: 403 },
  UNAVAILABLE: { exit: 125, http: 503 },
  INTERNAL: { exit: 125, http: 500 },
};

export function exitCodeOf(err: unknown): number {
  return err instanceof BerthError ? TABLE[err.code].exit : 125;
}

export function httpStatusOf(err: unknown): number {
  return err instanceof BerthError ? TABLE[err.code].http : 500;
}

export const notFound = (msg: string, cause?: unknown) => new BerthError("NOT_FOUND", msg, { cause });
export const invalid = (msg: string, cause?: unknown) => new BerthError("INVALID_ARGUMENT", msg, { cause });
export const conflict = (msg: string, cause?: unknown) => new BerthError("CONFLICT", msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new BerthError("UNAVAILABLE", msg, { cause });
export const denied = (msg: string, cause?: unknown) => new BerthError("PERMISSION_DENIED", msg, { cause });
export const internal = (msg: string, cause?: unknown) => new BerthError("INTERNAL", msg, { cause });
export const precondition = (msg: string, cause?: unknown) => new BerthError("FAILED_PRECONDITION", msg, { cause });
