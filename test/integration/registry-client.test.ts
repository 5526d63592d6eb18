import { after, before, describe, it } from "node:test";
import { berthError } from "../helpers/errors.js";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../../src/core/digest.js";
import { defaultConfig } from "../../src/engine/config.js";
import { RegistryClient, type RegistryClientOptions } from "../../src/image/registry/index.js";
import { storeCredentials } from "../../src/image/registry/auth-file.js";
import { blobDataPath, pushBlob, pushImage, pushManifest, sha256Digest, startRegistry, type PushedImage, type TestRegistry } from "../helpers/registry.js";

const tmp = mkdtempSync(join(tmpdir(), "berth-regclient-"));
const clients: RegistryClient[] = [];

/** A client that never reads the real user's auth files or /etc certs.d. */
function client(reg: TestRegistry, extra: Partial<RegistryClientOptions> = {}): RegistryClient {
  const c = new RegistryClient(reg.host, {
    config: defaultConfig(),
    authfile: join(tmp, "no-such-auth.json"),
    certsDirs: [],
    retry: { baseDelayMs: 10 },
    ...extra,
  });
  clients.push(c);
  return c;
}


after(async () => {
  for (const c of clients) await c.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("registry client: plain HTTP registry on 127.0.0.1", () => {
  let reg: TestRegistry;
  let img: PushedImage;
  before(async () => {
    reg = await startRegistry("http");
    img = await pushImage(reg, "lab/alpine", "v1", { layers: [Buffer.from("layer one bytes"), Buffer.from("layer two")] });
  });
  after(async () => reg?.stop());

  it("pings and falls back to HTTP automatically", async () => {
    await client(reg).ping();
  });

  it("fetches a manifest by tag and by digest", async () => {
    const c = client(reg);
    const byTag = await c.getManifest("lab/alpine", "v1");
    assert.equal(byTag.digest, img.manifestDigest);
    assert.equal(byTag.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.deepEqual(byTag.bytes, img.manifestBytes);
    const byDigest = await c.getManifest("lab/alpine", img.manifestDigest);
    assert.equal(byDigest.digest, img.manifestDigest);
    assert.deepEqual(byDigest.bytes, img.manifestBytes);
  });

  it("fetches blobs, verified, and streams from an offset", async () => {
    const c = client(reg);
    assert.deepEqual(await c.getBlob("lab/alpine", img.config), img.config.bytes);
    const chunks: Buffer[] = [];
    for await (const ch of c.blobStream("lab/alpine", img.layers[0]!, 6)) chunks.push(ch as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), "one bytes");
  });

  it("NOT_FOUND names what is missing", async () => {
    const c = client(reg);
    await assert.rejects(c.getManifest("lab/alpine", "nope"), berthError("NOT_FOUND", new RegExp(`^manifest unknown: ${reg.host}/lab/alpine:nope$`)));
    await assert.rejects(c.getManifest("foo", "bar"), berthError("NOT_FOUND", new RegExp(`^manifest unknown: ${reg.host}/foo:bar`)));
    const missing = sha256Digest("missing") as Digest;
    await assert.rejects(c.getBlob("lab/alpine", { digest: missing, size: 7 }), berthError("NOT_FOUND", new RegExp(`blob unknown: ${reg.host}/lab/alpine@${missing}`)));
  });

  it("detects manifest bytes that do not match the digest (by digest and by tag)", async () => {
    const layer = await pushBlob(reg, "lab/corrupt", "12345");
    const cfg = await pushBlob(reg, "lab/corrupt", "{}");
    const text = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...cfg },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
    });
    const digest = await pushManifest(reg, "lab/corrupt", "t", text, "application/vnd.oci.image.manifest.v1+json");
    // Same length, still valid JSON: the registry serves it, but it is not what the digest names.
    const p = blobDataPath(reg, digest);
    writeFileSync(p, readFileSync(p, "utf8").replace('"size":5', '"size":6'));
    const c = client(reg);
    await assert.rejects(c.getManifest("lab/corrupt", digest), berthError("FAILED_PRECONDITION", /manifest .*lab\/corrupt@sha256:.* failed verification/));
    await assert.rejects(c.getManifest("lab/corrupt", "t"), berthError("FAILED_PRECONDITION", /Docker-Content-Digest/));
  });

  it("getBlob rejects a blob whose bytes were corrupted in storage", async () => {
    const p = blobDataPath(reg, img.layers[1]!.digest);
    writeFileSync(p, "layer TWO"); // same size, different bytes
    await assert.rejects(client(reg).getBlob("lab/alpine", img.layers[1]!), berthError("FAILED_PRECONDITION", /blob .*lab\/alpine@sha256:.* failed verification/));
  });

  it("--tls-verify=true refuses plain HTTP", async () => {
    await assert.rejects(client(reg, { tlsVerify: true }).ping(), berthError("UNAVAILABLE", /does not speak TLS/));
  });

  it("a closed port is UNAVAILABLE: connection refused", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const c = new RegistryClient(`127.0.0.1:${port}`, { config: defaultConfig(), certsDirs: [], authfile: join(tmp, "x.json") });
    clients.push(c);
    await assert.rejects(c.getManifest("a", "b"), berthError("UNAVAILABLE", new RegExp(`^cannot reach registry 127\\.0\\.0\\.1:${port}: connection refused$`)));
  });
});

describe("registry client: TLS registry", () => {
  let reg: TestRegistry;
  let img: PushedImage;
  before(async () => {
    reg = await startRegistry("tls");
    img = await pushImage(reg, "lab/tls", "v1", { layers: [Buffer.from("tls layer")] });
  });
  after(async () => reg?.stop());

  it("refuses an unknown CA even on loopback, with a message that says how to fix it", async () => {
    await assert.rejects(
      client(reg).getManifest("lab/tls", "v1"),
      berthError(
        "FAILED_PRECONDITION",
        new RegExp(
          `^TLS certificate of ${reg.host} is not trusted \\(unable to verify the first certificate\\): put its CA in /etc/berth/certs.d/${reg.host}/ca.crt or pass --cert-dir / --tls-verify=false$`,
        ),
      ),
    );
  });

  it("trusts the CA from certs.d/<host>/ca.crt", async () => {
    const m = await client(reg, { certsDirs: [join(tmp, "missing"), reg.certsDir!] }).getManifest("lab/tls", "v1");
    assert.equal(m.digest, img.manifestDigest);
  });

  it("trusts the CA from --cert-dir", async () => {
    const c = client(reg, { certDir: join(reg.certsDir!, reg.host) });
    assert.deepEqual(await c.getBlob("lab/tls", img.layers[0]!), Buffer.from("tls layer"));
  });

  it("skips verification for registries.insecure and --tls-verify=false only", async () => {
    const listed = client(reg, { config: { ...defaultConfig(), registries: { insecure: [reg.host], mirrors: {} } } });
    assert.equal((await listed.getManifest("lab/tls", "v1")).digest, img.manifestDigest);
    assert.equal((await client(reg, { tlsVerify: false }).getManifest("lab/tls", "v1")).digest, img.manifestDigest);
    await assert.rejects(client(reg, { tlsVerify: true }).ping(), berthError("FAILED_PRECONDITION", /not trusted/));
  });
});

describe("registry client: basic auth", () => {
  let reg: TestRegistry;
  let img: PushedImage;
  before(async () => {
    reg = await startRegistry("basic");
    img = await pushImage(reg, "team/app", "1.0", { layers: [Buffer.from("basic layer")] });
  });
  after(async () => reg?.stop());

  it("without credentials: authentication required, with the login hint", async () => {
    await assert.rejects(
      client(reg, { certsDirs: [reg.certsDir!] }).getManifest("team/app", "1.0"),
      berthError("PERMISSION_DENIED", new RegExp(`^authentication required for ${reg.host}/team/app: run \`berth login ${reg.host}\`$`)),
    );
  });

  it("wrong password: invalid username or password, secret not in the message", async () => {
    const c = client(reg, { certsDirs: [reg.certsDir!], creds: { username: reg.username!, password: "Wr0ngSecret" } });
    await assert.rejects(c.getManifest("team/app", "1.0"), (e: unknown) => {
      berthError("PERMISSION_DENIED", new RegExp(`^invalid username or password for ${reg.host}$`))(e);
      assert.ok(!(e as Error).message.includes("Wr0ngSecret"));
      return true;
    });
  });

  it("--creds and the auth file both work; --creds wins", async () => {
    const viaCreds = client(reg, { certsDirs: [reg.certsDir!], creds: { username: reg.username!, password: reg.password! } });
    assert.equal((await viaCreds.getManifest("team/app", "1.0")).digest, img.manifestDigest);
    const authfile = join(tmp, "basic-auth.json");
    storeCredentials(authfile, reg.host, { username: reg.username!, password: reg.password! });
    const viaFile = client(reg, { certsDirs: [reg.certsDir!], authfile });
    assert.deepEqual(await viaFile.getBlob("team/app", img.layers[0]!), Buffer.from("basic layer"));
    const wrongWins = client(reg, { certsDirs: [reg.certsDir!], authfile, creds: { username: reg.username!, password: "nope" } });
    await assert.rejects(wrongWins.ping().then(() => wrongWins.getManifest("team/app", "1.0")), berthError("PERMISSION_DENIED"));
  });
});

describe("registry client: bearer token auth", () => {
  let reg: TestRegistry;
  let pub: PushedImage;
  let priv: PushedImage;
  before(async () => {
    reg = await startRegistry("token");
    pub = await pushImage(reg, "public/hello", "latest", { layers: [Buffer.from("public layer")] });
    priv = await pushImage(reg, "private/app", "v2", { layers: [Buffer.from("private layer")] });
  });
  after(async () => reg?.stop());

  it("anonymous token for a public repository", async () => {
    reg.tokenRequests.length = 0;
    const c = client(reg, { certsDirs: [reg.certsDir!] });
    assert.equal((await c.getManifest("public/hello", "latest")).digest, pub.manifestDigest);
    assert.deepEqual(await c.getBlob("public/hello", pub.layers[0]!), Buffer.from("public layer"));
    assert.deepEqual(reg.tokenRequests, [{ scopes: ["repository:public/hello:pull"], account: undefined, authenticated: false }]);
  });

  it("private repository without credentials: authentication required", async () => {
    await assert.rejects(
      client(reg, { certsDirs: [reg.certsDir!] }).getManifest("private/app", "v2"),
      berthError("PERMISSION_DENIED", new RegExp(`^authentication required for ${reg.host}/private/app: run \`berth login ${reg.host}\`$`)),
    );
  });

  it("with credentials: token fetched with Basic, cached per scope", async () => {
    reg.tokenRequests.length = 0;
    const c = client(reg, { certsDirs: [reg.certsDir!], creds: { username: reg.username!, password: reg.password! } });
    assert.equal((await c.getManifest("private/app", "v2")).digest, priv.manifestDigest);
    assert.deepEqual(await c.getBlob("private/app", priv.config), priv.config.bytes);
    assert.deepEqual(await c.getBlob("private/app", priv.layers[0]!), Buffer.from("private layer"));
    assert.equal((await c.getManifest("public/hello", "latest")).digest, pub.manifestDigest);
    assert.deepEqual(reg.tokenRequests, [
      { scopes: ["repository:private/app:pull"], account: reg.username, authenticated: true },
      { scopes: ["repository:public/hello:pull"], account: reg.username, authenticated: true },
    ]);
  });

  it("wrong password: refused by the token server", async () => {
    const c = client(reg, { certsDirs: [reg.certsDir!], creds: { username: reg.username!, password: "Wr0ngSecret" } });
    await assert.rejects(c.getManifest("public/hello", "latest"), (e: unknown) => {
      berthError("PERMISSION_DENIED", new RegExp(`^invalid username or password for ${reg.host}$`))(e);
      assert.ok(!(e as Error).message.includes("Wr0ngSecret"));
      return true;
    });
  });
});
