import assert from "node:assert/strict";
import { BerthError, type ErrorCode } from "../../src/core/errors.js";

/** An assert.rejects/throws validator: a BerthError with this code (and message, when given). */
export function berthError(code: ErrorCode, re?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected BerthError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}
