import assert from "node:assert/strict";
import { test } from "node:test";
import { familiarName, formatReference, parseReference, parseTagReference } from "../../src/core/reference.js";
import { BerthError } from "../../src/core/errors.js";

const D = "sha256:" + "a".repeat(64);

test("normalises Docker Hub short names", () => {
  assert.equal(formatReference(parseReference("busybox")), "docker.io/library/busybox:latest");
  assert.equal(formatReference(parseReference("busybox:1.36")), "docker.io/library/busybox:1.36");
  assert.equal(formatReference(parseReference("user/app")), "docker.io/user/app:latest");
  assert.equal(formatReference(parseReference("index.docker.io/library/busybox")), "docker.io/library/busybox:latest");
  assert.equal(formatReference(parseReference("docker.io/busybox")), "docker.io/library/busybox:latest");
});

test("keeps registry hosts with ports and nested paths", () => {
  const r = parseReference("127.0.0.1:5000/a/b/c:v1");
  assert.deepEqual(r, { domain: "127.0.0.1:5000", path: "a/b/c", tag: "v1", digest: undefined });
  assert.equal(parseReference("localhost/x").domain, "localhost");
  assert.equal(parseReference("localhost:5000/x").path, "x");
  assert.equal(parseReference("quay.io/org/img").domain, "quay.io");
  assert.equal(parseReference("[::1]:5000/img:t").domain, "[::1]:5000");
});

test("digests and tag+digest", () => {
  const r = parseReference(`busybox@${D}`);
  assert.equal(r.tag, undefined);
  assert.equal(r.digest, D);
  assert.equal(formatReference(r), `docker.io/library/busybox@${D}`);
  const both = parseReference(`host:5000/x:1@${D}`);
  assert.equal(both.tag, "1");
  assert.equal(both.digest, D);
});

test("invalid references quote the input", () => {
  for (const bad of ["", "UPPER", "a//b", "busybox:", "busybox:-x", "busybox@sha256:123", "-lead", "a:b:c", "host:99999/x", `x@md5:${"a".repeat(32)}`]) {
    assert.throws(
      () => parseReference(bad),
      (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT" && e.message.includes(`"${bad}"`),
      bad,
    );
  }
  assert.throws(() => parseTagReference(`a@${D}`), /cannot tag with a digest/);
});

test("familiar names", () => {
  assert.equal(familiarName("docker.io/library/busybox"), "busybox");
  assert.equal(familiarName("docker.io/user/app"), "user/app");
  assert.equal(familiarName("127.0.0.1:5000/x"), "127.0.0.1:5000/x");
});
