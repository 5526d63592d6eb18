/**
 * Test helper: a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 with a random port,
 * in one of four modes, plus a few raw push helpers. Independent of berth's own registry client on purpose:
 * tests of the client must not depend on the code under test to set up their fixtures.
 *
 *   http   plain HTTP, no auth
 *   tls    HTTPS with a throw-away CA (certsDir/<host>/ca.crt), no auth
 *   basic  HTTPS + htpasswd (bcrypt, from apache2-utils' htpasswd)
 *   token  HTTPS + Docker token auth; the token server runs in this process (plain HTTP on 127.0.0.1).
 *          Paths starting with "public/" get anonymous pull tokens; everything else needs Basic creds.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash, createPrivateKey, randomBytes, sign as cryptoSign, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export type RegistryMode = "http" | "tls" | "basic" | "token";

export interface TokenRequest {
  scopes: string[];
  account?: string;
  /** true when valid Basic creds came with the request. */
  authenticated: boolean;
}

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  /** "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT" */
  url: string;
  mode: RegistryMode;
  /** The registry's filesystem storage root (docker/registry/v2/... below it). */
  storageDir: string;
  /** certs.d-style directory containing `<host>/ca.crt` (tls, basic, token). */
  certsDir?: string;
  /** The CA certificate that signed the registry's server certificate. */
  caPath?: string;
  username?: string;
  password?: string;
  /** token mode: the realm URL of the in-process token server. */
  tokenRealm?: string;
  /** token mode: every request the token server received, in order. */
  tokenRequests: TokenRequest[];
  stop(): Promise<void>;
}

const REGISTRY_BIN = "/usr/bin/docker-registry";
const SERVICE = "berth-test-registry";
const ISSUER = "berth-test-issuer";

const live = new Set<{ child?: ChildProcess; dir: string; server?: http.Server }>();
process.once("exit", () => {
  // Last resort when a test forgot stop() or crashed: kill only what we started, remove our temp dirs.
  for (const r of live) {
    try {
      if (r.child?.pid && r.child.exitCode === null) process.kill(r.child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
    try {
      rmSync(r.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA and a server certificate for 127.0.0.1/localhost signed by it. */
function makeTls(dir: string): { caPath: string; certPath: string; keyPath: string } {
  openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=berth test CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir);
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"], dir);
  return { caPath: join(dir, "ca.crt"), certPath: join(dir, "server.crt"), keyPath: join(dir, "server.key") };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

interface TokenServer {
  server: http.Server;
  realm: string;
}

async function startTokenServer(dir: string, username: string, password: string, requests: TokenRequest[]): Promise<TokenServer & { certPath: string }> {
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.crt", "-days", "2", "-subj", "/CN=berth test token signer"], dir);
  const key = createPrivateKey(readFileSync(join(dir, "token.key")));
  const certDer = new X509Certificate(readFileSync(join(dir, "token.crt"))).raw;
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", x5c: [certDer.toString("base64")] }));

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    if (u.pathname !== "/token") {
      res.writeHead(404).end();
      return;
    }
    let user = "";
    let authenticated = false;
    const authz = req.headers.authorization;
    if (authz?.startsWith("Basic ")) {
      const dec = Buffer.from(authz.slice(6), "base64").toString();
      const i = dec.indexOf(":");
      if (dec.slice(0, i) !== username || dec.slice(i + 1) !== password) {
        requests.push({ scopes: u.searchParams.getAll("scope"), account: u.searchParams.get("account") ?? undefined, authenticated: false });
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ details: "invalid username or password" }));
        return;
      }
      user = username;
      authenticated = true;
    }
    const scopes = u.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    requests.push({ scopes, account: u.searchParams.get("account") ?? undefined, authenticated });
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const s of scopes) {
      // repository:<name>:<actions>; the name itself may not contain ':' (no port in repo paths).
      const first = s.indexOf(":");
      const last = s.lastIndexOf(":");
      if (first < 0 || last === first) continue;
      const type = s.slice(0, first);
      const name = s.slice(first + 1, last);
      const wanted = s.slice(last + 1).split(",").filter(Boolean);
      let actions: string[] = [];
      if (authenticated) actions = wanted;
      else if (type === "repository" && name.startsWith("public/")) actions = wanted.filter((a) => a === "pull");
      if (actions.length) access.push({ type, name, actions });
    }
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: ISSUER,
      sub: user,
      aud: u.searchParams.get("service") ?? SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString("hex"),
      access,
    };
    const signingInput = `${header}.${b64url(JSON.stringify(claims))}`;
    const sig = cryptoSign("sha256", Buffer.from(signingInput), key);
    const token = `${signingInput}.${b64url(sig)}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return { server, realm: `http://127.0.0.1:${port}/token`, certPath: join(dir, "token.crt") };
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP(S) request trusting only the test CA; no redirects, no retries. */
function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer; ca?: Buffer }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.request(
      u,
      { method: opts.method ?? "GET", headers: { ...opts.headers, ...(opts.body ? { "content-length": String(opts.body.length) } : {}) }, ca: opts.ca, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.setTimeout(15000, () => req.destroy(new Error(`timeout on ${url}`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

function registryConfig(opts: { port: number; storageDir: string; tls?: { certPath: string; keyPath: string }; htpasswd?: string; token?: { realm: string; certPath: string } }): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(opts.storageDir)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${opts.port}`,
    `  secret: ${randomBytes(16).toString("hex")}`,
  ];
  if (opts.tls) lines.push("  tls:", `    certificate: ${JSON.stringify(opts.tls.certPath)}`, `    key: ${JSON.stringify(opts.tls.keyPath)}`);
  if (opts.htpasswd) lines.push("auth:", "  htpasswd:", "    realm: berth-test", `    path: ${JSON.stringify(opts.htpasswd)}`);
  if (opts.token) {
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${JSON.stringify(opts.token.realm)}`,
      `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    rootcertbundle: ${JSON.stringify(opts.token.certPath)}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Start docker-registry; resolves once GET /v2/ answers (any HTTP status below 500). */
export async function startRegistry(mode: RegistryMode): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), `berth-registry-${mode}-`));
  const entry: { child?: ChildProcess; dir: string; server?: http.Server } = { dir };
  live.add(entry);
  const tokenRequests: TokenRequest[] = [];
  try {
    const storageDir = join(dir, "storage");
    mkdirSync(storageDir);
    const secure = mode !== "http";
    const tls = secure ? makeTls(dir) : undefined;
    const username = mode === "basic" || mode === "token" ? "tester" : undefined;
    const password = username ? `pw-${randomBytes(6).toString("hex")}` : undefined;
    let htpasswd: string | undefined;
    if (mode === "basic") {
      htpasswd = join(dir, "htpasswd");
      writeFileSync(htpasswd, execFileSync("htpasswd", ["-Bbn", username!, password!]));
    }
    let token: (TokenServer & { certPath: string }) | undefined;
    if (mode === "token") {
      token = await startTokenServer(dir, username!, password!, tokenRequests);
      entry.server = token.server;
    }
    let certsDir: string | undefined;
    let caPath: string | undefined;

    // A port picked by bind(0) may be taken again before the registry binds it: retry a few times.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const host = `127.0.0.1:${port}`;
      const configPath = join(dir, "config.yml");
      writeFileSync(configPath, registryConfig({ port, storageDir, tls, htpasswd, token }));
      const child = spawn(REGISTRY_BIN, ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
      entry.child = child;
      let stderr = "";
      child.stderr!.on("data", (c: Buffer) => {
        stderr = (stderr + c.toString()).slice(-8192);
      });
      const url = `${secure ? "https" : "http"}://${host}`;
      const ca = tls ? readFileSync(tls.caPath) : undefined;
      try {
        await waitReady(child, url, ca, () => stderr);
      } catch (e) {
        lastErr = e;
        await killChild(child);
        if (/address already in use/i.test(stderr)) continue;
        throw e;
      }
      if (tls) {
        certsDir = join(dir, "certs.d");
        mkdirSync(join(certsDir, host), { recursive: true });
        caPath = join(certsDir, host, "ca.crt");
        writeFileSync(caPath, readFileSync(tls.caPath));
      }
      let stopped = false;
      const reg: TestRegistry = {
        host,
        url,
        mode,
        storageDir,
        certsDir,
        caPath,
        username,
        password,
        tokenRealm: token?.realm,
        tokenRequests,
        async stop() {
          if (stopped) return;
          stopped = true;
          await killChild(child);
          if (token) await new Promise<void>((r) => token!.server.close(() => r()));
          rmSync(dir, { recursive: true, force: true });
          live.delete(entry);
        },
      };
      return reg;
    }
    throw lastErr;
  } catch (e) {
    if (entry.child) await killChild(entry.child);
    if (entry.server) entry.server.close();
    rmSync(dir, { recursive: true, force: true });
    live.delete(entry);
    throw e;
  }
}

async function waitReady(child: ChildProcess, url: string, ca: Buffer | undefined, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20000;
  let exited = false;
  child.once("exit", () => (exited = true));
  for (;;) {
    if (exited || child.exitCode !== null) throw new Error(`docker-registry exited before serving ${url}: ${stderr().trim()}`);
    try {
      const r = await rawRequest(`${url}/v2/`, { ca });
      if (r.status < 500) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${url} within 20s: ${stderr().trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        process.kill(child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 3000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    try {
      process.kill(child.pid!, "SIGTERM");
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

/** Authorization header for pushing to repo (pull+push scope). */
async function pushAuth(reg: TestRegistry, repo: string): Promise<Record<string, string>> {
  if (!reg.username) return {};
  const basic = `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}`;
  if (reg.mode === "basic") return { authorization: basic };
  const u = new URL(reg.tokenRealm!);
  u.searchParams.set("service", SERVICE);
  u.searchParams.set("scope", `repository:${repo}:pull,push,delete`);
  const r = await rawRequest(u.toString(), { headers: { authorization: basic } });
  if (r.status !== 200) throw new Error(`token server answered ${r.status}`);
  return { authorization: `Bearer ${JSON.parse(r.body.toString()).token}` };
}

function caOf(reg: TestRegistry): Buffer | undefined {
  return reg.caPath ? readFileSync(reg.caPath) : undefined;
}

export function sha256Digest(bytes: Uint8Array | string): `sha256:${string}` {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Monolithic upload: POST to open an upload session, PUT the whole blob with ?digest=. */
export async function pushBlob(reg: TestRegistry, repo: string, bytes: Uint8Array | string): Promise<{ digest: `sha256:${string}`; size: number }> {
  const body = Buffer.from(bytes);
  const digest = sha256Digest(body);
  const auth = await pushAuth(reg, repo);
  const ca = caOf(reg);
  const start = await rawRequest(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: { ...auth }, ca });
  if (start.status !== 202) throw new Error(`pushBlob ${repo}: POST upload answered ${start.status}: ${start.body.toString()}`);
  const loc = new URL(String(start.headers.location), reg.url);
  loc.searchParams.set("digest", digest);
  const put = await rawRequest(loc.toString(), { method: "PUT", headers: { ...auth, "content-type": "application/octet-stream" }, body, ca });
  if (put.status !== 201) throw new Error(`pushBlob ${repo}: PUT upload answered ${put.status}: ${put.body.toString()}`);
  return { digest, size: body.length };
}

/** PUT a manifest under a tag or digest; returns its digest. */
export async function pushManifest(reg: TestRegistry, repo: string, ref: string, bytes: Uint8Array | string, mediaType: string): Promise<`sha256:${string}`> {
  const body = Buffer.from(bytes);
  const auth = await pushAuth(reg, repo);
  const r = await rawRequest(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: "PUT", headers: { ...auth, "content-type": mediaType }, body, ca: caOf(reg) });
  if (r.status !== 201) throw new Error(`pushManifest ${repo}:${ref} answered ${r.status}: ${r.body.toString()}`);
  return sha256Digest(body);
}

export interface PushedImage {
  manifestDigest: `sha256:${string}`;
  manifestBytes: Buffer;
  mediaType: string;
  config: { digest: `sha256:${string}`; size: number; bytes: Buffer };
  layers: { digest: `sha256:${string}`; size: number; mediaType: string }[];
}

/**
 * Convenience: push layers (tar or tar.gz bytes) with a generated image config and an OCI (or Docker v2)
 * manifest tagged `tag`. diff_ids are computed from the (gunzipped) layers.
 */
export async function pushImage(
  reg: TestRegistry,
  repo: string,
  tag: string,
  opts: { layers: Buffer[]; config?: Record<string, unknown>; format?: "oci" | "docker"; architecture?: string; os?: string },
): Promise<PushedImage> {
  const docker = opts.format === "docker";
  const layers: PushedImage["layers"] = [];
  const diffIds: string[] = [];
  for (const l of opts.layers) {
    const gz = l.length > 2 && l[0] === 0x1f && l[1] === 0x8b;
    diffIds.push(sha256Digest(gz ? gunzipSync(l) : l));
    const d = await pushBlob(reg, repo, l);
    const mediaType = docker
      ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
      : gz
        ? "application/vnd.oci.image.layer.v1.tar+gzip"
        : "application/vnd.oci.image.layer.v1.tar";
    layers.push({ ...d, mediaType });
  }
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? "amd64",
      os: opts.os ?? "linux",
      config: {},
      ...opts.config,
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
  const cfg = await pushBlob(reg, repo, configBytes);
  const mediaType = docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json";
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json", ...cfg },
      layers,
    }),
  );
  const manifestDigest = await pushManifest(reg, repo, tag, manifestBytes, mediaType);
  return { manifestDigest, manifestBytes, mediaType, config: { ...cfg, bytes: configBytes }, layers };
}

/** Where the registry keeps a blob's bytes (for corruption tests). */
export function blobDataPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(digest.indexOf(":") + 1);
  return join(reg.storageDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
}
