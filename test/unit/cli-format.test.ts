import assert from "node:assert/strict";
import { test } from "node:test";
import { humanAgo, humanSize, renderTemplate, shortId, table } from "../../src/cli/format.js";
import { registryDomain } from "../../src/cli/commands/login.js";
import { exitCodeOf, httpStatusOf, BerthError } from "../../src/core/errors.js";

test("sizes and ages like Docker", () => {
  assert.equal(humanSize(999), "999B");
  assert.equal(humanSize(4_261_000), "4.26MB");
  assert.equal(humanSize(1_500_000_000), "1.5GB");
  const now = Date.parse("2026-01-10T00:00:00Z");
  assert.equal(humanAgo("2026-01-09T23:59:30Z", now), "30 seconds ago");
  assert.equal(humanAgo("2026-01-03T00:00:00Z", now), "1 week ago");
  assert.equal(humanAgo(undefined, now), "N/A");
  assert.equal(shortId("sha256:0123456789abcdef"), "0123456789ab");
});

test("tables and templates", () => {
  assert.equal(table(["A", "BB"], [["xxxx", "y"]]), "A      BB\nxxxx   y\n");
  assert.equal(renderTemplate("{{.Id}}\\t{{.Config.Cmd}} {{json .Missing}}", { Id: "i", Config: { Cmd: ["sh"] } }), 'i\t["sh"] null');
});

test("registry argument of login", () => {
  assert.equal(registryDomain(undefined), "docker.io");
  assert.equal(registryDomain("https://index.docker.io/v1/"), "docker.io");
  assert.equal(registryDomain("127.0.0.1:5000"), "127.0.0.1:5000");
  assert.equal(registryDomain("quay.io"), "quay.io");
});

test("error codes map to Docker exit codes and HTTP statuses", () => {
  assert.equal(exitCodeOf(new BerthError("NOT_FOUND", "x")), 125);
  assert.equal(httpStatusOf(new BerthError("NOT_FOUND", "x")), 404);
  assert.equal(httpStatusOf(new BerthError("CONFLICT", "x")), 409);
  assert.equal(httpStatusOf(new Error("x")), 500);
});
