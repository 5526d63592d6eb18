/** Pull through TLS, basic auth and bearer tokens, with login/logout, --creds, --cert-dir and --tls-verify. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Sandbox } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { busyboxImage, pushLayout, type Layout } from "../helpers/fixtures.js";

const work = mkdtempSync(join(tmpdir(), "berth-it-reg-"));
const sandboxes: Sandbox[] = [];
const sandbox = () => {
  const s = new Sandbox();
  sandboxes.push(s);
  return s;
};
after(() => {
  sandboxes.forEach((s) => s.cleanup());
  rmSync(work, { recursive: true, force: true });
});

let layout: Layout;
before(async () => {
  layout = await busyboxImage(join(work, "bb"));
});

const oneLine = (s: string) => s.trim().split("\n").length === 1;

/** A CA that signed nothing the registry uses. */
function otherCa(): string {
  const d = mkdtempSync(join(work, "ca-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(d, "k.pem"), "-out", join(d, "ca.crt"), "-days", "1", "-subj", "/CN=not-the-ca"], { stdio: "ignore" });
  rmSync(join(d, "k.pem"));
  return d;
}

describe("HTTPS with a test CA", () => {
  let reg: TestRegistry;
  let caDir: string;
  before(async () => {
    reg = await startRegistry("tls");
    caDir = join(reg.certsDir!, reg.host);
    await pushLayout(layout, { host: reg.host, repo: "x/busybox", tag: "1", tls: true, certDir: caDir });
  });
  after(async () => reg?.stop());

  test("unknown CA refused with advice; wrong CA refused; right CA via --cert-dir works", () => {
    const s = sandbox();
    const ref = `${reg.host}/x/busybox:1`;
    const none = s.run(["pull", ref]);
    assert.equal(none.code, 125);
    assert.ok(oneLine(none.stderr), none.stderr);
    assert.match(none.stderr, /certificate/i);
    assert.match(none.stderr, /certs\.d|--cert-dir|--tls-verify/);
    const wrong = s.run(["pull", "--cert-dir", otherCa(), ref]);
    assert.equal(wrong.code, 125);
    assert.match(wrong.stderr, /certificate/i);
    assert.equal(s.ok(["images", "-q", "-a"]), "");
    s.ok(["pull", "--cert-dir", caDir, ref]);
    assert.match(s.ok(["images"]), /x\/busybox\s+1\s/);
  });

  test("--tls-verify=false skips verification; the config's insecure list does too", () => {
    const s = sandbox();
    s.ok(["pull", "--tls-verify=false", `${reg.host}/x/busybox:1`]);
    const t = sandbox();
    const conf = join(t.dir, "berth.yaml");
    writeFileSync(conf, `registries:\n  insecure: ["${reg.host}"]\n`);
    t.ok(["--config", conf, "pull", `${reg.host}/x/busybox:1`]);
    const badConf = join(t.dir, "bad.yaml");
    writeFileSync(badConf, "registries: [1, 2]\n");
    const r = t.run(["--config", badConf, "images"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /bad\.yaml: registries/);
  });
});

describe("HTTPS with basic auth", () => {
  let reg: TestRegistry;
  let caDir: string;
  before(async () => {
    reg = await startRegistry("basic");
    caDir = join(reg.certsDir!, reg.host);
    await pushLayout(layout, { host: reg.host, repo: "priv/busybox", tag: "1", tls: true, certDir: caDir, creds: { username: reg.username!, password: reg.password! } });
  });
  after(async () => reg?.stop());

  test("refused without login; wrong password stores nothing; login, pull, logout", () => {
    const s = sandbox();
    const authfile = join(s.dir, "auth.json");
    const ref = `${reg.host}/priv/busybox:1`;
    const anon = s.run(["pull", "--cert-dir", caDir, "--authfile", authfile, ref]);
    assert.equal(anon.code, 125);
    assert.ok(oneLine(anon.stderr), anon.stderr);
    assert.match(anon.stderr, /authentication required/);
    const wrong = s.run(["login", "--cert-dir", caDir, "--authfile", authfile, "-u", reg.username!, "--password-stdin", reg.host], { input: "not-the-password\n" });
    assert.equal(wrong.code, 125);
    assert.match(wrong.stderr, /invalid username or password/);
    assert.ok(!existsSync(authfile));
    assert.ok(!wrong.stderr.includes("not-the-password"));
    const good = s.run(["login", "--cert-dir", caDir, "--authfile", authfile, "-u", reg.username!, "--password-stdin", reg.host], { input: `${reg.password}\n` });
    assert.equal(good.code, 0, good.stderr);
    assert.equal(statSync(authfile).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(authfile, "utf8"));
    assert.equal(Buffer.from(stored.auths[reg.host].auth, "base64").toString(), `${reg.username}:${reg.password}`);
    const pulled = s.run(["pull", "--cert-dir", caDir, "--authfile", authfile, "--log-level", "debug", ref]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.ok(!pulled.stderr.includes(reg.password!), "password leaked into debug logs");
    assert.ok(!pulled.stderr.includes(stored.auths[reg.host].auth), "auth leaked into debug logs");
    s.ok(["logout", "--authfile", authfile, reg.host]);
    assert.equal(JSON.parse(readFileSync(authfile, "utf8")).auths[reg.host], undefined);
    assert.equal(s.run(["logout", "--authfile", authfile, reg.host]).code, 125);
  });

  test("--creds works without an auth file", () => {
    const s = sandbox();
    s.ok(["pull", "--cert-dir", caDir, "--authfile", join(s.dir, "none.json"), "--creds", `${reg.username}:${reg.password}`, `${reg.host}/priv/busybox:1`]);
    const bad = s.run(["pull", "--cert-dir", caDir, "--creds", "nocolon", `${reg.host}/priv/busybox:1`]);
    assert.match(bad.stderr, /invalid --creds/);
  });
});

describe("bearer tokens", () => {
  let reg: TestRegistry;
  let caDir: string;
  before(async () => {
    reg = await startRegistry("token");
    caDir = join(reg.certsDir!, reg.host);
    const creds = { username: reg.username!, password: reg.password! };
    await pushLayout(layout, { host: reg.host, repo: "public/busybox", tag: "1", tls: true, certDir: caDir, creds });
    await pushLayout(layout, { host: reg.host, repo: "team/busybox", tag: "1", tls: true, certDir: caDir, creds });
  });
  after(async () => reg?.stop());

  test("anonymous token for a public repo; credentials for a private one", async () => {
    const s = sandbox();
    const authfile = join(s.dir, "auth.json");
    await s.okAsync(["pull", "--cert-dir", caDir, "--authfile", authfile, `${reg.host}/public/busybox:1`]);
    const anon = await s.runAsync(["pull", "--cert-dir", caDir, "--authfile", authfile, `${reg.host}/team/busybox:1`]);
    assert.equal(anon.code, 125);
    assert.match(anon.stderr, /authentication required|denied/);
    await s.okAsync(["login", "--cert-dir", caDir, "--authfile", authfile, "-u", reg.username!, "-p", reg.password!, reg.host]);
    await s.okAsync(["pull", "--cert-dir", caDir, "--authfile", authfile, `${reg.host}/team/busybox:1`]);
    assert.ok(reg.tokenRequests.some((r) => r.authenticated && r.scopes.some((sc) => sc.includes("team/busybox:pull"))));
  });
});
