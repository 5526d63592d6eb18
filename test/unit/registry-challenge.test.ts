import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseChallenge } from "../../src/image/registry/index.js";

describe("parseChallenge", () => {
  it("parses a Docker Hub style bearer challenge", () => {
    const c = parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"');
    assert.deepEqual(c, [
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull" } },
    ]);
  });

  it("keeps commas and escaped quotes inside quoted strings", () => {
    const c = parseChallenge('Bearer realm="https://a/t?x=1,2",scope="repository:a/b:pull,push", error="say \\"hi\\""');
    assert.equal(c.length, 1);
    assert.equal(c[0]!.params.realm, "https://a/t?x=1,2");
    assert.equal(c[0]!.params.scope, "repository:a/b:pull,push");
    assert.equal(c[0]!.params.error, 'say "hi"');
  });

  it("splits several challenges in one header and lower-cases schemes and names", () => {
    const c = parseChallenge('Basic realm="Registry Realm", BEARER Realm="https://t/token" , Service=reg, Negotiate abc+/==');
    assert.deepEqual(c, [
      { scheme: "basic", params: { realm: "Registry Realm" } },
      { scheme: "bearer", params: { realm: "https://t/token", service: "reg" } },
      { scheme: "negotiate", params: {}, token68: "abc+/==" },
    ]);
  });

  it("accepts unquoted tokens, optional whitespace around '=' and empty items", () => {
    const c = parseChallenge("Bearer realm = r.e-a_l ,, service=svc,");
    assert.deepEqual(c, [{ scheme: "bearer", params: { realm: "r.e-a_l", service: "svc" } }]);
  });

  it("handles a bare scheme, an empty header and garbage without throwing", () => {
    assert.deepEqual(parseChallenge("Basic"), [{ scheme: "basic", params: {} }]);
    assert.deepEqual(parseChallenge(""), []);
    assert.doesNotThrow(() => parseChallenge('=,"";Bearer realm="unterminated'));
    assert.equal(parseChallenge('Bearer realm="unterminated')[0]!.params.realm, "unterminated");
  });
});
