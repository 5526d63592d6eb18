import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BerthError } from "../../src/core/errors.js";
import {
  defaultAuthFile,
  findCredentials,
  logout,
  lookupCredentials,
  normalizeAuthKey,
  readAuthFile,
  removeCredentials,
  storeCredentials,
} from "../../src/image/registry/index.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("auth file", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-authfile-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("defaultAuthFile follows XDG_CONFIG_HOME, else $HOME/.config", () => {
    const saved = { xdg: process.env.XDG_CONFIG_HOME, home: process.env.HOME };
    try {
      process.env.XDG_CONFIG_HOME = "/x/cfg";
      assert.equal(defaultAuthFile(), "/x/cfg/berth/auth.json");
      delete process.env.XDG_CONFIG_HOME;
      process.env.HOME = "/home/u";
      assert.equal(defaultAuthFile(), "/home/u/.config/berth/auth.json");
    } finally {
      if (saved.xdg === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved.xdg;
      process.env.HOME = saved.home;
    }
  });

  it("normalises Docker's legacy keys", () => {
    assert.equal(normalizeAuthKey("https://index.docker.io/v1/"), "docker.io");
    assert.equal(normalizeAuthKey("registry-1.docker.io"), "docker.io");
    assert.equal(normalizeAuthKey("http://Reg.Lan:5000/v2/"), "reg.lan:5000");
    assert.equal(normalizeAuthKey("127.0.0.1:5000"), "127.0.0.1:5000");
  });

  it("round-trips: store creates dirs 0700 and a 0600 file, keeps other keys, lookup finds it, remove deletes it", () => {
    const file = join(dir, "deep", "er", "auth.json");
    storeCredentials(file, "127.0.0.1:5000", { username: "alice", password: "p:a:ss w0rd" });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "deep", "er")).mode & 0o777, 0o700);
    assert.deepEqual(lookupCredentials("127.0.0.1:5000", [file]), { username: "alice", password: "p:a:ss w0rd" });
    assert.equal(lookupCredentials("127.0.0.1:5001", [file]), undefined);

    // other registries and other top-level keys survive
    const doc = JSON.parse(readFileSync(file, "utf8"));
    doc.auths["other:1"] = { auth: b64("bob:x") };
    doc.credHelpers = { "gcr.io": "gcloud" };
    writeFileSync(file, JSON.stringify(doc));
    storeCredentials(file, "127.0.0.1:5000", { username: "alice", password: "new" });
    const after1 = readAuthFile(file)!;
    assert.deepEqual(after1.credHelpers, { "gcr.io": "gcloud" });
    assert.deepEqual(findCredentials(after1, "other:1"), { username: "bob", password: "x" });
    assert.equal(findCredentials(after1, "127.0.0.1:5000")!.password, "new");

    removeCredentials(file, "127.0.0.1:5000");
    assert.equal(lookupCredentials("127.0.0.1:5000", [file]), undefined);
    assert.deepEqual(lookupCredentials("other:1", [file]), { username: "bob", password: "x" });
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it("docker.io credentials are found under Docker's legacy key; first file wins", () => {
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    writeFileSync(a, JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: b64("hub:secret") } } }));
    writeFileSync(b, JSON.stringify({ auths: { "docker.io": { auth: b64("other:x") }, "reg:1": { auth: b64("r:y") } } }));
    assert.deepEqual(lookupCredentials("docker.io", [join(dir, "missing.json"), a, b]), { username: "hub", password: "secret" });
    assert.deepEqual(lookupCredentials("reg:1", [a, b]), { username: "r", password: "y" });
    // login replaces the legacy key instead of leaving two entries
    storeCredentials(a, "docker.io", { username: "hub", password: "s2" });
    assert.deepEqual(Object.keys(readAuthFile(a)!.auths!), ["docker.io"]);
  });

  it("logout when not logged in is NOT_FOUND; a malformed file is INVALID_ARGUMENT without its content", async () => {
    await assert.rejects(logout("nowhere:1", join(dir, "none.json")), (e: unknown) => e instanceof BerthError && e.code === "NOT_FOUND" && /not logged in to nowhere:1/.test(e.message));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"auths": {"x": {"auth": "c2VjcmV0'); // truncated, contains a secret
    assert.throws(
      () => lookupCredentials("x", [bad]),
      (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT" && !e.message.includes("c2VjcmV0"),
    );
  });
});
