import { after, before, describe, it } from "node:test";
import { berthError } from "../helpers/errors.js";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type { Digest } from "../../src/core/digest.js";
import { defaultConfig } from "../../src/engine/config.js";
import { RegistryClient, type RegistryClientOptions } from "../../src/image/registry/index.js";
import { pushBlob, sha256Digest, startRegistry, type TestRegistry } from "../helpers/registry.js";

const tmp = mkdtempSync(join(tmpdir(), "berth-regstream-"));
const clients: RegistryClient[] = [];
const servers: (Server | http.Server)[] = [];

function client(host: string, extra: Partial<RegistryClientOptions> = {}): RegistryClient {
  const c = new RegistryClient(host, {
    config: defaultConfig(),
    authfile: join(tmp, "no-such-auth.json"),
    certsDirs: [],
    retry: { baseDelayMs: 5, maxDelayMs: 50 },
    ...extra,
  });
  clients.push(c);
  return c;
}

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}


function listen<T extends Server | http.Server>(s: T): Promise<number> {
  servers.push(s);
  return new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)));
}

after(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) {
    (s as http.Server).closeAllConnections?.();
    await new Promise((r) => s.close(() => r(undefined)));
  }
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * A TCP proxy that cuts the first blob response after `cutAfter` bytes (headers included) and records
 * whether a later request carried a Range header.
 */
async function startCuttingProxy(targetPort: number, cutAfter: number) {
  const state = { cut: false, rangeRequests: [] as string[], blobRequests: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(targetPort, "127.0.0.1");
    sockets.add(down).add(up);
    let armed = false;
    let seen = 0;
    down.on("data", (d: Buffer) => {
      const text = d.toString("latin1");
      if (/^GET \/v2\/[^ ]+\/blobs\/sha256:/.test(text)) {
        state.blobRequests++;
        if (!state.cut) armed = true;
        const range = /\r\nrange: *(bytes=[^\r]*)/i.exec(text);
        if (range) state.rangeRequests.push(range[1]!);
      }
      up.write(d);
    });
    up.on("data", (d: Buffer) => {
      if (armed && !state.cut) {
        seen += d.length;
        if (seen >= cutAfter) {
          state.cut = true;
          down.write(d.subarray(0, d.length - (seen - cutAfter)), () => {
            down.destroy();
            up.destroy();
          });
          return;
        }
      }
      down.write(d);
    });
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
  });
  const port = await listen(server);
  return { port, state, sockets };
}

describe("blobStream resume against docker-registry", () => {
  let reg: TestRegistry;
  const blob = randomBytes(3 * 1024 * 1024 + 17);
  let desc: { digest: Digest; size: number };
  before(async () => {
    reg = await startRegistry("http");
    desc = await pushBlob(reg, "big/blob", blob);
  });
  after(async () => reg?.stop());

  it("a connection cut mid-body is resumed with a Range request and the whole blob arrives", async () => {
    const proxy = await startCuttingProxy(Number(reg.host.split(":")[1]), 200 * 1024);
    const c = client(`127.0.0.1:${proxy.port}`);
    const got = await collect(c.blobStream("big/blob", desc));
    assert.equal(proxy.state.cut, true, "the proxy cut the connection");
    assert.equal(got.length, blob.length);
    assert.equal(sha256Digest(got), desc.digest);
    assert.equal(proxy.state.blobRequests, 2);
    assert.equal(proxy.state.rangeRequests.length, 1);
    const from = Number(/^bytes=(\d+)-$/.exec(proxy.state.rangeRequests[0]!)?.[1]);
    assert.ok(from > 0 && from < 200 * 1024, `resumed from byte ${from}`);
  });

  it("getBlob also survives the cut (verified)", async () => {
    const proxy = await startCuttingProxy(Number(reg.host.split(":")[1]), 64 * 1024);
    const got = await client(`127.0.0.1:${proxy.port}`).getBlob("big/blob", desc);
    assert.equal(got.length, blob.length);
    assert.equal(proxy.state.rangeRequests.length, 1);
  });
});

/** A fake registry speaking plain HTTP; `blob` decides how each blob request is answered. */
async function fakeRegistry(blob: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void, opts: { basic?: string } = {}) {
  const log: { url: string; range?: string; authorization?: string }[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    log.push({ url: req.url!, range: req.headers.range, authorization: req.headers.authorization });
    if (opts.basic && req.headers.authorization !== opts.basic) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="fake"' }).end();
      return;
    }
    if (req.url === "/v2/") {
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      return;
    }
    blob(req, res, n++);
  });
  const port = await listen(server);
  return { host: `127.0.0.1:${port}`, log };
}

describe("blobStream against misbehaving servers", () => {
  const data = randomBytes(100_000);
  const desc = { digest: sha256Digest(data) as Digest, size: data.length };
  const rangeStart = (req: http.IncomingMessage) => Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);

  it("server that ignores Range (200) and drops the connection: the delivered prefix is skipped", async () => {
    const fake = await fakeRegistry((req, res, n) => {
      res.writeHead(200, { "content-length": String(data.length) });
      if (n === 0) {
        res.write(data.subarray(0, 30_000), () => res.socket!.destroy());
      } else res.end(data);
    });
    const got = await collect(client(fake.host).blobStream("x/y", desc));
    assert.ok(got.equals(data));
    const blobReqs = fake.log.filter((l) => l.url.includes("/blobs/"));
    assert.equal(blobReqs.length, 2);
    assert.equal(blobReqs[0]!.range, undefined);
    assert.match(blobReqs[1]!.range!, /^bytes=\d+-$/);
  });

  it("premature clean end (chunked, too short) and a 206 resume", async () => {
    const fake = await fakeRegistry((req, res, n) => {
      const start = rangeStart(req);
      if (n === 0) {
        res.writeHead(200); // chunked: ends cleanly but short
        res.end(data.subarray(0, 12_345));
        return;
      }
      res.writeHead(206, { "content-range": `bytes ${start}-${data.length - 1}/${data.length}`, "content-length": String(data.length - start) });
      res.end(data.subarray(start));
    });
    const got = await collect(client(fake.host).blobStream("x/y", desc));
    assert.ok(got.equals(data));
    assert.equal(fake.log.filter((l) => l.url.includes("/blobs/"))[1]!.range, "bytes=12345-");
  });

  it("retries 5xx and honours 429 Retry-After, then succeeds", async () => {
    const fake = await fakeRegistry((_req, res, n) => {
      if (n === 0) res.writeHead(503).end();
      else if (n === 1) res.writeHead(429, { "retry-after": "0" }).end();
      else if (n === 2) res.writeHead(500).end();
      else res.writeHead(200, { "content-length": String(data.length) }).end(data);
    });
    assert.ok((await collect(client(fake.host).blobStream("x/y", desc))).equals(data));
  });

  it("gives up after bounded retries: 5xx -> UNAVAILABLE, endless 429 -> rate limited", async () => {
    const failing = await fakeRegistry((_req, res) => res.writeHead(502).end());
    await assert.rejects(collect(client(failing.host, { retry: { attempts: 2, baseDelayMs: 1 } }).blobStream("x/y", desc)), berthError("UNAVAILABLE", /failed with HTTP 502/));
    assert.equal(failing.log.filter((l) => l.url.includes("/blobs/")).length, 3);
    const limited = await fakeRegistry((_req, res) => res.writeHead(429, { "retry-after": "0" }).end());
    await assert.rejects(collect(client(limited.host).blobStream("x/y", desc)), berthError("UNAVAILABLE", new RegExp(`^rate limited by ${limited.host}`)));
  });

  it("a server that keeps dropping the connection without progress fails after bounded resumes", async () => {
    const fake = await fakeRegistry((_req, res) => {
      res.writeHead(200, { "content-length": String(data.length) });
      res.flushHeaders();
      setTimeout(() => res.socket!.destroy(), 5);
    });
    await assert.rejects(collect(client(fake.host, { retry: { attempts: 3, baseDelayMs: 1 } }).blobStream("x/y", desc)), berthError("UNAVAILABLE", /kept failing at byte 0/));
  });

  it("more bytes than the descriptor's size is an error", async () => {
    const fake = await fakeRegistry((_req, res) => res.writeHead(200).end(Buffer.concat([data, Buffer.from("extra")])));
    await assert.rejects(collect(client(fake.host).blobStream("x/y", desc)), berthError("FAILED_PRECONDITION", /larger than its descriptor/));
  });

  it("follows a redirect to another host and drops Authorization there", async () => {
    const storage = await fakeRegistry((_req, res) => res.writeHead(200, { "content-length": String(data.length) }).end(data));
    const basic = `Basic ${Buffer.from("u:p").toString("base64")}`;
    const fake = await fakeRegistry(
      (_req, res) => res.writeHead(307, { location: `http://${storage.host}/storage/blob?sig=abc` }).end(),
      { basic },
    );
    const c = client(fake.host, { creds: { username: "u", password: "p" } });
    assert.ok((await collect(c.blobStream("x/y", desc))).equals(data));
    assert.equal(fake.log.filter((l) => l.url.includes("/blobs/")).at(-1)!.authorization, basic);
    const hit = storage.log.find((l) => l.url.startsWith("/storage/"));
    assert.ok(hit, "storage backend was asked");
    assert.equal(hit.authorization, undefined);
  });
});
