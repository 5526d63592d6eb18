/**
 * OCI distribution client for one registry: scheme probing, token/basic auth, retries, manual redirects,
 * verified manifest/blob reads and a resumable blob stream. One undici Agent per client carries the registry's
 * TLS options (also used for its token realm and storage redirects, as Docker does).
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import { BerthError, denied, internal, notFound, precondition, unavailable } from "../../core/errors.js";
import { digestAlgorithm, isDigest, type Digest } from "../../core/digest.js";
import { silentLogger, type Logger } from "../../core/log.js";
import { ACCEPT_MANIFESTS } from "../../core/oci.js";
import { registryHost } from "../../core/reference.js";
import type { BerthConfig } from "../../engine/config.js";
import { dockerConfigFile, defaultAuthFile, lookupCredentials, type Credentials } from "./auth-file.js";
import { parseChallenge } from "./challenge.js";
import { certificateError, isConnRefused, isHostNotFound, isRetryableNetError, isTlsProtocolMismatch, shortReason } from "./net-errors.js";
import { loadTlsMaterial, tlsConnectOptions, transportPolicy, type TransportPolicy } from "./transport.js";

export interface RetryOptions {
  /** Retries of one request after 5xx / connection reset (and resumes of a blob stream without progress). Default 4. */
  attempts?: number;
  /** First back-off delay; doubles each time. Default 250 ms. */
  baseDelayMs?: number;
  /** Back-off cap, also the cap on a honoured Retry-After. Default 10 s. */
  maxDelayMs?: number;
  /** 429 answers tolerated per request before giving up. Default 3. */
  rateLimitAttempts?: number;
}

export interface RegistryClientOptions {
  config: BerthConfig;
  /** undefined = automatic; true = verified HTTPS only; false = skip verification and allow HTTP. */
  tlsVerify?: boolean;
  /** --cert-dir: *.crt (CAs) and *.cert + *.key (client pair); replaces the certs.d lookup. */
  certDir?: string;
  /** certs.d roots, each holding <host[:port]>/ subdirectories. */
  certsDirs?: string[];
  /** Docker config.json-style auth file; default defaultAuthFile(). */
  authfile?: string;
  /** --creds; wins over the auth file. */
  creds?: Credentials;
  log?: Logger;
  /** Retry tuning (tests shorten the delays). */
  retry?: RetryOptions;
}

type Headers = Record<string, string | string[] | undefined>;
type Response = Dispatcher.ResponseData;

interface BearerChallenge {
  scheme: "bearer";
  realm: string;
  service?: string;
}
type KnownChallenge = BearerChallenge | { scheme: "basic" } | { scheme: "none" };

interface CachedToken {
  token: Promise<string>;
  expiresAt: number;
}

interface SendOptions {
  method?: "GET" | "HEAD";
  headers?: Record<string, string>;
  /** Repository path for scope and messages (undefined for /v2/). */
  repo?: string;
}

const USER_AGENT = "berth/0.1";
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

async function drain(res: Response): Promise<void> {
  try {
    await res.body.dump({ limit: 64 * 1024 });
  } catch {
    /* the connection is discarded either way */
  }
}

async function readAll(res: Response, limit: number, what: string): Promise<Buffer> {
  const len = Number(header(res.headers, "content-length"));
  if (Number.isFinite(len) && len > limit) {
    await drain(res);
    throw precondition(`${what} is too large (${len} bytes, limit ${limit})`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw precondition(`${what} is too large (more than ${limit} bytes)`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** First error of a registry error body: {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}. */
async function registryError(res: Response): Promise<{ code?: string; message?: string }> {
  try {
    const text = (await readAll(res, 64 * 1024, "error body")).toString("utf8");
    const j = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const e = j.errors?.[0];
    return { code: typeof e?.code === "string" ? e.code : undefined, message: typeof e?.message === "string" ? e.message : undefined };
  } catch {
    return {};
  }
}

function hashOf(alg: string, data: Uint8Array): Digest {
  return `${alg}:${createHash(alg).update(data).digest("hex")}`;
}

export class RegistryClient {
  readonly domain: string;
  /** Host requests go to (docker.io -> registry-1.docker.io). */
  readonly host: string;
  private readonly opts: RegistryClientOptions;
  private readonly log: Logger;
  private readonly policy: TransportPolicy;
  private readonly agent: Agent;
  private readonly retry: Required<RetryOptions>;
  private creds: Credentials | undefined;
  private credsLoaded = false;
  private base: Promise<string> | undefined;
  private challenge: KnownChallenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private closed = false;

  constructor(domain: string, opts: RegistryClientOptions) {
    this.domain = domain;
    this.host = registryHost(domain);
    this.opts = opts;
    this.log = opts.log ?? silentLogger;
    this.policy = transportPolicy(domain, opts.config, opts.tlsVerify);
    this.retry = {
      attempts: opts.retry?.attempts ?? 4,
      baseDelayMs: opts.retry?.baseDelayMs ?? 250,
      maxDelayMs: opts.retry?.maxDelayMs ?? 10_000,
      rateLimitAttempts: opts.retry?.rateLimitAttempts ?? 3,
    };
    const material = loadTlsMaterial(domain, {
      certDir: opts.certDir,
      certsDirs: opts.certsDirs,
      aliases: this.host !== domain ? [this.host] : [],
    });
    if (material.caFiles.length) this.log.debug(`registry ${domain}: extra CAs ${material.caFiles.join(", ")}`);
    if (material.certFile) this.log.debug(`registry ${domain}: client certificate ${material.certFile}`);
    this.agent = new Agent({
      connect: { ...tlsConnectOptions(material, this.policy), timeout: 30_000 },
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      keepAliveTimeout: 10_000,
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // public surface

  /** GET /v2/: decides the scheme (HTTPS, or HTTP for insecure registries that do not speak TLS) and reads the auth challenge. */
  async ping(): Promise<void> {
    await this.baseUrl();
  }

  /** Fetch a manifest by tag or digest. A digest reference is verified; a tag's digest is computed (and checked against Docker-Content-Digest). */
  async getManifest(path: string, ref: string, accept: string = ACCEPT_MANIFESTS): Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> {
    const byDigest = isDigest(ref);
    const what = `${this.domain}/${path}${byDigest ? "@" : ":"}${ref}`;
    const res = await this.send(`/v2/${path}/manifests/${ref}`, { headers: { accept }, repo: path });
    if (res.statusCode !== 200) throw await this.statusError(res, "manifest", what, path);
    const bytes = await readAll(res, MAX_MANIFEST_BYTES, `manifest ${what}`);
    let digest: Digest;
    if (byDigest) {
      const want = ref as Digest;
      const got = hashOf(digestAlgorithm(want), bytes);
      if (got !== want) throw precondition(`manifest ${what} failed verification: registry ${this.domain} sent content with digest ${got}`);
      digest = want.startsWith("sha256:") ? want : hashOf("sha256", bytes);
    } else {
      digest = hashOf("sha256", bytes);
      const dcd = header(res.headers, "docker-content-digest")?.trim();
      if (dcd && isDigest(dcd)) {
        const got = hashOf(digestAlgorithm(dcd as Digest), bytes);
        if (got !== dcd) throw precondition(`manifest ${what} failed verification: Docker-Content-Digest says ${dcd} but the content is ${got}`);
      }
    }
    return { bytes, mediaType: this.manifestMediaType(header(res.headers, "content-type"), bytes), digest };
  }

  /** Fetch a small blob (an image config) whole, verifying size and digest. */
  async getBlob(path: string, desc: { digest: Digest; size: number }): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.blobStream(path, desc)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const what = `blob ${this.domain}/${path}@${desc.digest}`;
    if (bytes.length !== desc.size) throw precondition(`${what} failed verification: expected ${desc.size} bytes, got ${bytes.length}`);
    const got = hashOf(digestAlgorithm(desc.digest), bytes);
    if (got !== desc.digest) throw precondition(`${what} failed verification: the registry sent content with digest ${got}`);
    return bytes;
  }

  /**
   * Bytes [offset, size) of a blob, resuming with `Range: bytes=N-` after a reset, premature end or 5xx
   * (bounded retries with back-off, counted from the last progress). A server that ignores Range (200) has
   * the already-delivered prefix skipped. More than `size` bytes is an error. The digest is not verified here.
   */
  blobStream(path: string, desc: { digest: Digest; size: number }, offset = 0): Readable {
    return Readable.from(this.blobChunks(path, desc, offset), { objectMode: false });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // close() waits for in-flight requests; a consumer that abandoned a body would block it forever.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 2000)));
    const r = await Promise.race([this.agent.close().then(() => "closed" as const), timeout]);
    clearTimeout(timer);
    if (r === "timeout") await this.agent.destroy();
  }

  /**
   * Check `creds` against /v2/ (Basic, or a token fetch from the realm). Used by login(); throws
   * PERMISSION_DENIED for wrong credentials. A registry without auth accepts anything.
   */
  async verifyCredentials(creds: Credentials): Promise<void> {
    this.creds = creds;
    this.credsLoaded = true;
    const base = await this.baseUrl();
    const ch = this.challenge;
    if (!ch || ch.scheme === "none") return;
    let authorization: string;
    if (ch.scheme === "basic") authorization = this.basicHeader(creds);
    else authorization = `Bearer ${await this.fetchToken(ch, undefined)}`;
    const res = await this.rawSend(`${base}/v2/`, "GET", { authorization }, "GET /v2/");
    await drain(res);
    if (res.statusCode === 401 || res.statusCode === 403) throw denied(`invalid username or password for ${this.domain}`);
    if (res.statusCode >= 400) throw unavailable(`registry ${this.domain} answered HTTP ${res.statusCode} to GET /v2/`);
  }

  // ---------------------------------------------------------------------------------------------------------
  // blob streaming

  private async *blobChunks(path: string, desc: { digest: Digest; size: number }, offset: number): AsyncGenerator<Buffer> {
    const what = `blob ${this.domain}/${path}@${desc.digest}`;
    const size = desc.size;
    let pos = offset;
    let failures = 0;
    let resumes = 0;
    if (pos > size) throw precondition(`${what}: offset ${pos} is beyond its size ${size}`);
    while (pos < size) {
      // send() retries transient failures of the request itself; failures while reading the body resume below.
      const res = await this.send(`/v2/${path}/blobs/${desc.digest}`, { headers: pos > 0 ? { range: `bytes=${pos}-` } : {}, repo: path });
      let skip = 0;
      if (res.statusCode === 206) {
        const m = /^bytes (\d+)-(\d+)?/.exec(header(res.headers, "content-range") ?? "");
        const start = m ? Number(m[1]) : pos;
        if (start > pos) {
          await drain(res);
          throw unavailable(`${what}: registry ${this.domain} answered a range starting at ${start} when ${pos} was asked`);
        }
        skip = pos - start;
      } else if (res.statusCode === 200) {
        skip = pos; // Range ignored: the whole blob is coming again
      } else {
        throw await this.statusError(res, "blob", `${this.domain}/${path}@${desc.digest}`, path);
      }
      if (pos > offset || skip > 0) this.log.debug(`${what}: resumed at byte ${pos} (HTTP ${res.statusCode})`);
      let progressed = false;
      try {
        for await (const raw of res.body) {
          let c = raw as Buffer;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          if (pos + c.length > size) {
            res.body.destroy();
            throw precondition(`${what} is larger than its descriptor says (${size} bytes)`);
          }
          pos += c.length;
          progressed = true;
          yield c;
        }
      } catch (e) {
        if (e instanceof BerthError) throw e;
        if (!isRetryableNetError(e) && !(e instanceof Error && /aborted|premature/i.test(e.message))) {
          throw unavailable(`${what}: download from ${this.domain} failed: ${shortReason(e)}`, e);
        }
        this.log.debug(`${what}: connection lost at byte ${pos}: ${shortReason(e)}`);
      }
      if (pos >= size) return;
      // premature end or connection lost: resume
      failures = progressed ? 1 : failures + 1;
      resumes++;
      if (failures > this.retry.attempts || resumes > this.retry.attempts * 10) {
        throw unavailable(`${what}: download from ${this.domain} kept failing at byte ${pos} of ${size} after ${resumes} attempts`);
      }
      await sleep(this.backoff(failures - 1));
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // request machinery

  private backoff(n: number): number {
    const d = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** n);
    return Math.round(d * (0.75 + Math.random() * 0.5));
  }

  private credentials(): Credentials | undefined {
    if (!this.credsLoaded) {
      this.credsLoaded = true;
      if (this.opts.creds) this.creds = this.opts.creds;
      else {
        const files = this.opts.authfile ? [this.opts.authfile] : [defaultAuthFile(), dockerConfigFile()];
        this.creds = lookupCredentials(this.domain, files);
        if (this.creds) this.log.debug(`registry ${this.domain}: using stored credentials`);
      }
    }
    return this.creds;
  }

  private basicHeader(c: Credentials): string {
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
  }

  /** The scheme://host base URL, probed once (a failed probe is retried on the next call). */
  private baseUrl(): Promise<string> {
    if (!this.base) {
      this.base = this.probe();
      this.base.catch(() => (this.base = undefined));
    }
    return this.base;
  }

  private async probe(): Promise<string> {
    let base = `https://${this.host}`;
    let res: Response;
    try {
      res = await this.rawSend(`${base}/v2/`, "GET", {}, "GET /v2/");
    } catch (e) {
      if (!(e instanceof BerthError && e.cause !== undefined && isTlsProtocolMismatch(e.cause))) throw e;
      if (!this.policy.allowHttp) {
        throw unavailable(
          `registry ${this.domain} does not speak TLS: list it in registries.insecure in /etc/berth/berth.yaml or pass --tls-verify=false to use plain HTTP`,
          e.cause,
        );
      }
      this.log.debug(`registry ${this.domain}: no TLS, falling back to plain HTTP`);
      base = `http://${this.host}`;
      res = await this.rawSend(`${base}/v2/`, "GET", {}, "GET /v2/");
    }
    await drain(res);
    if (res.statusCode === 401) this.learnChallenge(header(res.headers, "www-authenticate"));
    else if (res.statusCode === 200) this.challenge = { scheme: "none" };
    else this.log.warn(`registry ${this.domain}: GET /v2/ answered HTTP ${res.statusCode}; continuing`);
    this.log.debug(`registry ${this.domain}: ${base} (auth: ${this.challenge?.scheme ?? "unknown"})`);
    return base;
  }

  private learnChallenge(h: string | undefined): void {
    const all = parseChallenge(h ?? "");
    const bearer = all.find((c) => c.scheme === "bearer" && c.params.realm);
    if (bearer) {
      const realm = bearer.params.realm!;
      let u: URL;
      try {
        u = new URL(realm);
      } catch {
        throw unavailable(`registry ${this.domain} sent an invalid token realm`);
      }
      if (u.protocol !== "https:" && u.protocol !== "http:") throw unavailable(`registry ${this.domain} sent a token realm that is not http(s)`);
      this.challenge = { scheme: "bearer", realm, service: bearer.params.service };
      return;
    }
    if (all.some((c) => c.scheme === "basic")) {
      this.challenge = { scheme: "basic" };
      return;
    }
    this.challenge = undefined;
  }

  private authRequired(repo?: string): BerthError {
    return denied(`authentication required for ${this.domain}${repo ? `/${repo}` : ""}: run \`berth login ${this.domain}\``);
  }

  /** Authorization header for a request in `repo` (pull scope), or undefined when none is needed/possible. */
  private async authorization(repo: string | undefined): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch || ch.scheme === "none") return undefined;
    const creds = this.credentials();
    if (ch.scheme === "basic") return creds ? this.basicHeader(creds) : undefined;
    const scope = repo ? `repository:${repo}:pull` : undefined;
    const key = scope ?? "";
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${await cached.token}`;
    const entry: CachedToken = { token: this.fetchToken(ch, scope, (ms) => (entry.expiresAt = Date.now() + ms)), expiresAt: Number.MAX_SAFE_INTEGER };
    this.tokens.set(key, entry);
    entry.token.catch(() => this.tokens.get(key) === entry && this.tokens.delete(key));
    return `Bearer ${await entry.token}`;
  }

  /** GET realm?service=&scope= (Docker token spec), Basic creds if we have any. */
  private async fetchToken(ch: BearerChallenge, scope: string | undefined, setTtl?: (ms: number) => void): Promise<string> {
    const creds = this.credentials();
    const u = new URL(ch.realm);
    if (ch.service) u.searchParams.set("service", ch.service);
    if (scope) u.searchParams.set("scope", scope);
    if (creds) u.searchParams.set("account", creds.username);
    const headers: Record<string, string> = {};
    if (creds) headers.authorization = this.basicHeader(creds);
    const res = await this.rawSend(u.toString(), "GET", headers, `token for ${this.domain}`);
    if (res.statusCode === 401 || res.statusCode === 403) {
      await drain(res);
      if (creds) throw denied(`invalid username or password for ${this.domain}`);
      throw this.authRequired(scope?.split(":")[1]);
    }
    if (res.statusCode !== 200) {
      await drain(res);
      throw unavailable(`token server ${u.host} answered HTTP ${res.statusCode} for registry ${this.domain}`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse((await readAll(res, 1024 * 1024, "token response")).toString("utf8"));
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw unavailable(`token server ${u.host} sent an invalid response for registry ${this.domain}`);
    }
    const token = typeof body.token === "string" && body.token ? body.token : typeof body.access_token === "string" ? body.access_token : "";
    if (!token) throw unavailable(`token server ${u.host} sent no token for registry ${this.domain}`);
    // The spec's minimum lifetime is 60 s; refresh a little early.
    const ttl = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
    setTtl?.(Math.max(5, ttl - 10) * 1000);
    this.log.debug(`registry ${this.domain}: got a token${scope ? ` for ${scope}` : ""} (${creds ? "authenticated" : "anonymous"}, ${ttl}s)`);
    return token;
  }

  /**
   * An authenticated registry request: auth header, one re-authentication on 401, manual redirects
   * (Authorization dropped when the origin changes). Returns any non-401 final response for the caller to judge.
   */
  private async send(path: string, o: SendOptions): Promise<Response> {
    const base = await this.baseUrl();
    const origin = new URL(base).origin;
    let url = `${base}${path}`;
    let reauthed = false;
    let redirects = 0;
    for (;;) {
      const sameOrigin = new URL(url).origin === origin;
      const headers: Record<string, string> = { ...o.headers };
      if (sameOrigin) {
        const a = await this.authorization(o.repo);
        if (a) headers.authorization = a;
      }
      const res = await this.rawSend(url, o.method ?? "GET", headers, `${o.method ?? "GET"} ${path}`);
      const s = res.statusCode;
      if (s >= 300 && s < 400 && s !== 304) {
        const loc = header(res.headers, "location");
        await drain(res);
        if (!loc) throw unavailable(`registry ${this.domain} answered HTTP ${s} without a Location for ${path}`);
        if (++redirects > MAX_REDIRECTS) throw unavailable(`registry ${this.domain}: too many redirects for ${path}`);
        url = new URL(loc, url).toString();
        this.log.debug(`registry ${this.domain}: redirected to ${new URL(url).host}`);
        continue;
      }
      if (s === 401 && sameOrigin) {
        const www = header(res.headers, "www-authenticate");
        await drain(res);
        if (!reauthed && www) {
          reauthed = true;
          this.learnChallenge(www);
          this.tokens.clear();
          const ch = this.challenge as KnownChallenge | undefined;
          if (ch?.scheme === "bearer" || (ch?.scheme === "basic" && this.credentials())) continue;
        }
        const creds = this.credentials();
        if (!creds) throw this.authRequired(o.repo);
        if (this.challenge?.scheme === "bearer") {
          // The token server accepted the credentials (or fetchToken would have thrown) but the registry
          // refused the token for this repository.
          throw denied(`access to ${this.domain}/${o.repo ?? ""} denied: the repository does not exist or the account may not pull it`);
        }
        throw denied(`invalid username or password for ${this.domain}`);
      }
      return res;
    }
  }

  /**
   * One HTTP exchange with transient-failure handling: retries with back-off on connection resets and 5xx,
   * honours Retry-After on 429 (bounded), maps connection errors to BerthError.
   */
  private async rawSend(url: string, method: string, headers: Record<string, string>, what: string): Promise<Response> {
    if (this.closed) throw internal(`registry client for ${this.domain} is closed`);
    let attempt = 0;
    let rate = 0;
    for (;;) {
      let res: Response;
      try {
        res = await request(url, { dispatcher: this.agent, method: method as Dispatcher.HttpMethod, headers: { "user-agent": USER_AGENT, ...headers } });
      } catch (e) {
        if (isRetryableNetError(e) && !isTlsProtocolMismatch(e) && attempt < this.retry.attempts) {
          this.log.debug(`registry ${this.domain}: ${what}: ${shortReason(e)}; retrying`);
          await sleep(this.backoff(attempt++));
          continue;
        }
        throw this.networkError(e, url);
      }
      const s = res.statusCode;
      this.log.debug(`registry ${this.domain}: ${what} -> ${s}`);
      if (s === 429) {
        await drain(res);
        if (rate++ >= this.retry.rateLimitAttempts) throw unavailable(`rate limited by ${this.domain}: try again later`);
        await sleep(this.retryAfter(header(res.headers, "retry-after")) ?? this.backoff(rate));
        continue;
      }
      if (s >= 500 && s !== 501 && s !== 505) {
        if (attempt < this.retry.attempts) {
          await drain(res);
          await sleep(this.backoff(attempt++));
          continue;
        }
        await drain(res);
        throw unavailable(`registry ${this.domain} failed with HTTP ${s} for ${what} (after ${attempt + 1} attempts)`);
      }
      return res;
    }
  }

  private retryAfter(v: string | undefined): number | undefined {
    if (!v) return undefined;
    let ms: number;
    if (/^\d+$/.test(v.trim())) ms = Number(v.trim()) * 1000;
    else {
      const t = Date.parse(v);
      if (Number.isNaN(t)) return undefined;
      ms = t - Date.now();
    }
    return Math.max(0, Math.min(this.retry.maxDelayMs, ms));
  }

  private networkError(e: unknown, url: string): BerthError {
    if (e instanceof BerthError) return e;
    const u = new URL(url);
    const who = u.host === this.host ? `registry ${this.domain}` : `${u.host} (for registry ${this.domain})`;
    if (isConnRefused(e)) return unavailable(`cannot reach ${who}: connection refused`, e);
    if (isHostNotFound(e)) return unavailable(`cannot reach ${who}: host not found`, e);
    const cert = certificateError(e);
    if (cert) {
      const name = u.host === this.host ? this.domain : u.host;
      const fix = `put its CA in /etc/berth/certs.d/${name}/ca.crt or pass --cert-dir / --tls-verify=false`;
      if (cert.code === "ERR_TLS_CERT_ALTNAME_INVALID") return precondition(`TLS certificate of ${name} does not match its name (${cert.reason})`, e);
      return precondition(`TLS certificate of ${name} is not trusted (${cert.reason}): ${fix}`, e);
    }
    if (isTlsProtocolMismatch(e)) return unavailable(`cannot reach ${who} over HTTPS: ${shortReason(e)}`, e);
    return unavailable(`cannot reach ${who}: ${shortReason(e)}`, e);
  }

  private async statusError(res: Response, kind: "manifest" | "blob", what: string, repo: string): Promise<BerthError> {
    const s = res.statusCode;
    const err = await registryError(res);
    if (s === 404) {
      if (err.code === "NAME_UNKNOWN") return notFound(`${kind} unknown: ${what} (repository not known to ${this.domain})`);
      return notFound(`${kind} unknown: ${what}`);
    }
    if (s === 403) return denied(`access to ${this.domain}/${repo} denied by the registry${err.message ? `: ${err.message}` : ""}`);
    if (s === 401) return this.credentials() ? denied(`invalid username or password for ${this.domain}`) : this.authRequired(repo);
    const detail = err.code ? `${err.code}${err.message ? `: ${err.message}` : ""}` : `HTTP ${s}`;
    if (s === 400 || s === 405 || s === 406 || s === 415) return precondition(`registry ${this.domain} refused ${kind} ${what}: ${detail}`);
    return unavailable(`registry ${this.domain} answered HTTP ${s} for ${kind} ${what}${err.code ? ` (${detail})` : ""}`);
  }

  private manifestMediaType(contentType: string | undefined, bytes: Buffer): string {
    const ct = contentType?.split(";")[0]!.trim().toLowerCase();
    if (ct && ct !== "application/json" && ct !== "text/plain" && ct !== "application/octet-stream") return ct;
    try {
      const j = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown; manifests?: unknown; schemaVersion?: unknown };
      if (typeof j.mediaType === "string" && j.mediaType) return j.mediaType;
      if (Array.isArray(j.manifests)) return "application/vnd.oci.image.index.v1+json";
      if (j.schemaVersion === 2) return "application/vnd.oci.image.manifest.v1+json";
    } catch {
      /* not JSON: the caller's parser will say so */
    }
    return ct ?? "application/octet-stream";
  }
}
