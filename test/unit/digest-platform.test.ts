import assert from "node:assert/strict";
import { test } from "node:test";
import { chainIds, parseDigest, sha256 } from "../../src/core/digest.js";
import { formatPlatform, hostPlatform, parsePlatform, platformMatches } from "../../src/core/platform.js";

test("digest validation", () => {
  assert.equal(parseDigest("sha256:" + "0".repeat(64)), "sha256:" + "0".repeat(64));
  assert.throws(() => parseDigest("sha256:" + "0".repeat(63)), /64 lowercase hex/);
  assert.throws(() => parseDigest("sha256:" + "A".repeat(64)), /lowercase hex/);
  assert.throws(() => parseDigest("crc32:abcd"), /unsupported algorithm/);
});

test("chain IDs follow the image spec", () => {
  const a = sha256("a");
  const b = sha256("b");
  const c = sha256("c");
  const ids = chainIds([a, b, c]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], sha256(`${a} ${b}`));
  assert.equal(ids[2], sha256(`${ids[1]} ${c}`));
  assert.deepEqual(chainIds([]), []);
});

test("platform parsing and matching", () => {
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
  assert.deepEqual(parsePlatform("linux/x86_64"), { os: "linux", architecture: "amd64" });
  assert.throws(() => parsePlatform("linux"), /invalid platform "linux"/);
  assert.equal(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }), "linux/arm/v7");
  assert.ok(platformMatches({ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "amd64" }));
  assert.ok(!platformMatches({ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }));
  assert.ok(platformMatches({ os: "linux", architecture: "arm64", variant: "v8" }, { os: "linux", architecture: "arm64" }));
  assert.ok(!platformMatches({ os: "linux", architecture: "arm", variant: "v7" }, { os: "linux", architecture: "arm", variant: "v6" }));
  assert.ok(!platformMatches({ os: "linux", architecture: "amd64" }, undefined));
  assert.equal(hostPlatform().os, "linux");
});
