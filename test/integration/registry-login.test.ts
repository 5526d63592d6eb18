import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BerthError } from "../../src/core/errors.js";
import { defaultConfig } from "../../src/engine/config.js";
import { login, logout, RegistryClient } from "../../src/image/registry/index.js";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";

const tmp = mkdtempSync(join(tmpdir(), "berth-reglogin-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const mode of ["basic", "token"] as const) {
  describe(`login / logout (${mode})`, () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startRegistry(mode);
      await pushImage(reg, "team/app", "v1", { layers: [Buffer.from("x")] });
    });
    after(async () => reg?.stop());
    const opts = (authfile: string) => ({ config: defaultConfig(), certsDirs: [reg.certsDir!], authfile });

    it("a wrong password is PERMISSION_DENIED and writes nothing", async () => {
      const authfile = join(tmp, mode, "bad", "auth.json");
      await assert.rejects(login(reg.host, { username: reg.username!, password: "Wr0ngSecret" }, opts(authfile)), (e: unknown) => {
        assert.ok(e instanceof BerthError && e.code === "PERMISSION_DENIED", String(e));
        assert.match(e.message, new RegExp(`invalid username or password for ${reg.host}`));
        assert.ok(!e.message.includes("Wr0ngSecret"));
        return true;
      });
      assert.equal(existsSync(authfile), false);
      assert.equal(existsSync(join(tmp, mode, "bad")), false);
    });

    it("login writes a 0600 auth file (dirs 0700) that later pulls use; logout removes it", async () => {
      const authfile = join(tmp, mode, "good", "auth.json");
      await login(reg.host, { username: reg.username!, password: reg.password! }, opts(authfile));
      assert.equal(statSync(authfile).mode & 0o777, 0o600);
      assert.equal(statSync(join(tmp, mode, "good")).mode & 0o777, 0o700);
      const doc = JSON.parse(readFileSync(authfile, "utf8"));
      assert.equal(Buffer.from(doc.auths[reg.host].auth, "base64").toString(), `${reg.username}:${reg.password}`);

      const c = new RegistryClient(reg.host, opts(authfile));
      try {
        await c.getManifest("team/app", "v1");
      } finally {
        await c.close();
      }

      await logout(reg.host, authfile);
      assert.equal(JSON.parse(readFileSync(authfile, "utf8")).auths[reg.host], undefined);
      await assert.rejects(logout(reg.host, authfile), (e: unknown) => e instanceof BerthError && e.code === "NOT_FOUND");
    });

    it("login with an untrusted CA fails before anything is written", async () => {
      const authfile = join(tmp, mode, "ca", "auth.json");
      await assert.rejects(
        login(reg.host, { username: reg.username!, password: reg.password! }, { ...opts(authfile), certsDirs: [] }),
        (e: unknown) => e instanceof BerthError && /not trusted/.test(e.message),
      );
      assert.equal(existsSync(authfile), false);
    });
  });
}

describe("login to a registry without auth", () => {
  let reg: TestRegistry;
  before(async () => (reg = await startRegistry("http")));
  after(async () => reg?.stop());
  it("succeeds and stores the credentials", async () => {
    const authfile = join(tmp, "noauth", "auth.json");
    await login(reg.host, { username: "any", password: "thing" }, { config: defaultConfig(), certsDirs: [], authfile });
    assert.ok(JSON.parse(readFileSync(authfile, "utf8")).auths[reg.host]);
  });
});
