/**
 * Test and benchmark fixtures: OCI image layouts written directly on disk (blobs/sha256, index.json,
 * oci-layout), plus skopeo-based converters to registries and archives.
 *
 * Layers are built with tar-stream and zlib with fixed metadata (mtime, owner, entry order), so the same
 * call produces byte-identical blobs and digests on the same Node version: tests can assert on contents.
 * Independent of berth's own image code on purpose: fixtures must not depend on the code under test.
 */
import { execFile } from "node:child_process";
import { createCipheriv, createHash, randomBytes, type Hash } from "node:crypto";
import { createWriteStream, existsSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import * as tar from "tar-stream";

export interface Layout {
  dir: string;
  /** Tag inside the layout (org.opencontainers.image.ref.name), e.g. "latest". */
  ref: string;
}

type Digest = `sha256:${string}`;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

const MT = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

const REF_NAME = "org.opencontainers.image.ref.name";
/** Fixed timestamps keep layers and configs reproducible. */
const EPOCH = new Date("2024-01-01T00:00:00Z");
const CREATED = EPOCH.toISOString();
const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const BUSYBOX = "/bin/busybox";

/** Applets linked in /bin when busybox has them; enough for tests to run shells, list and inspect. */
const APPLETS = [
  "sh", "ash", "ls", "cat", "echo", "true", "false", "sleep", "env", "id", "mkdir", "rm", "rmdir", "cp", "mv", "ln",
  "ps", "ip", "ping", "hostname", "wget", "nc", "top", "grep", "sed", "awk", "head", "tail", "touch", "date", "uname",
  "mount", "umount", "kill", "stat", "wc", "printf", "test", "[", "chmod", "chown", "pwd", "whoami", "sort", "uniq",
  "tr", "cut", "find", "xargs", "df", "du", "free", "vi", "tee", "seq", "nslookup", "ifconfig", "route", "arp",
  "dd", "yes", "md5sum", "sha256sum", "readlink", "basename", "dirname", "which", "sync", "stty", "tty",
];

export type Entry =
  | { type: "dir"; name: string; mode?: number }
  | { type: "file"; name: string; mode?: number; data: Buffer | string }
  | { type: "symlink"; name: string; target: string }
  /** Large content produced in chunks, so a layer never has to fit in memory. */
  | { type: "stream"; name: string; mode?: number; size: number; chunks: () => Iterable<Buffer> };

export interface LayerBlob {
  descriptor: Descriptor;
  diffId: Digest;
}

// ---------------------------------------------------------------------------------------------------------
// Layout primitives

async function initLayout(dir: string): Promise<void> {
  await fsp.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await fsp.writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
}

function sha(data: Buffer | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function blobPath(dir: string, d: Digest): string {
  return join(dir, "blobs", "sha256", d.slice(7));
}

export async function writeBlob(dir: string, mediaType: string, data: Buffer | string, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const digest = sha(buf);
  await fsp.writeFile(blobPath(dir, digest), buf);
  return { mediaType, digest, size: buf.length, ...extra };
}

class HashCount extends Transform {
  readonly hash: Hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

function normName(name: string): string {
  return name.replace(/^\/+/, "");
}

/** Write one gzip layer blob from entries (in the given order), hashing both the tar and the gzip stream. */
export async function writeLayer(dir: string, entries: Entry[], opts: { level?: number } = {}): Promise<LayerBlob> {
  const pack = tar.pack();
  const raw = new HashCount();
  const gz = new HashCount();
  const tmp = join(dir, "blobs", `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const done = pipeline(pack, raw, createGzip({ level: opts.level ?? 6 }), gz, createWriteStream(tmp));
  const common = { mtime: EPOCH, uid: 0, gid: 0, uname: "root", gname: "root" };
  const add = (header: Parameters<tar.Pack["entry"]>[0], data?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      if (data) pack.entry(header, data, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  try {
    for (const e of entries) {
      const name = normName(e.name);
      if (e.type === "dir") await add({ ...common, name: name.endsWith("/") ? name : `${name}/`, type: "directory", mode: e.mode ?? 0o755 });
      else if (e.type === "symlink") await add({ ...common, name, type: "symlink", linkname: e.target, mode: 0o777 });
      else if (e.type === "file") await add({ ...common, name, type: "file", mode: e.mode ?? 0o644 }, Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data));
      else {
        const finished = new Promise<void>((resolve, reject) => {
          const w = pack.entry({ ...common, name, type: "file", mode: e.mode ?? 0o644, size: e.size }, (err) => (err ? reject(err) : resolve()));
          void (async () => {
            for (const chunk of e.chunks()) {
              if (!w.write(chunk)) await new Promise<void>((r) => w.once("drain", () => r()));
            }
            w.end(undefined);
          })().catch(reject);
        });
        await finished;
      }
    }
    pack.finalize();
    await done;
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  const digest = `sha256:${gz.hash.digest("hex")}` as Digest;
  await fsp.rename(tmp, blobPath(dir, digest));
  return { descriptor: { mediaType: MT.layerGzip, digest, size: gz.size }, diffId: `sha256:${raw.hash.digest("hex")}` };
}

export interface ImageSpec {
  architecture: string;
  variant?: string;
  layers: LayerBlob[];
  config?: Record<string, unknown>;
  history?: string[];
}

/** Write config + manifest for one image; returns the manifest descriptor (with platform). */
export async function writeImage(dir: string, spec: ImageSpec): Promise<Descriptor> {
  const config = {
    created: CREATED,
    architecture: spec.architecture,
    ...(spec.variant ? { variant: spec.variant } : {}),
    os: "linux",
    config: spec.config ?? {},
    rootfs: { type: "layers", diff_ids: spec.layers.map((l) => l.diffId) },
    history: spec.layers.map((_, i) => ({ created: CREATED, created_by: spec.history?.[i] ?? `berth fixture layer ${i}` })),
  };
  const cfg = await writeBlob(dir, MT.config, JSON.stringify(config));
  const manifest = { schemaVersion: 2, mediaType: MT.manifest, config: cfg, layers: spec.layers.map((l) => l.descriptor) };
  const platform = { os: "linux", architecture: spec.architecture, ...(spec.variant ? { variant: spec.variant } : {}) };
  return writeBlob(dir, MT.manifest, JSON.stringify(manifest), { platform });
}

/** Point `ref` at a descriptor in index.json, replacing any earlier descriptor with that ref. */
export async function setRef(dir: string, ref: string, desc: Descriptor, extraAnnotations: Record<string, string> = {}): Promise<Layout> {
  const path = join(dir, "index.json");
  let index: { schemaVersion: number; mediaType?: string; manifests: Descriptor[] } = { schemaVersion: 2, mediaType: MT.index, manifests: [] };
  if (existsSync(path)) index = JSON.parse(await fsp.readFile(path, "utf8"));
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref);
  index.manifests.push({ ...desc, annotations: { ...desc.annotations, ...extraAnnotations, [REF_NAME]: ref } });
  // Written via rename so a reader (or a cache check) never sees a half-written index.
  const tmp = `${path}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, JSON.stringify(index));
  await fsp.rename(tmp, path);
  return { dir, ref };
}

// ---------------------------------------------------------------------------------------------------------
// Busybox-based images

let appletCache: string[] | undefined;
async function applets(): Promise<string[]> {
  if (!appletCache) {
    const { stdout } = await run(BUSYBOX, ["--list"]);
    const have = new Set(stdout.split("\n").map((s) => s.trim()));
    appletCache = APPLETS.filter((a) => have.has(a));
  }
  return appletCache;
}

/** Entries of the busybox root filesystem, sorted so parents precede children. */
export async function busyboxEntries(extraFiles: Record<string, string> = {}): Promise<Entry[]> {
  const bin = await fsp.readFile(BUSYBOX);
  const entries: Entry[] = [
    { type: "dir", name: "bin" },
    { type: "file", name: "bin/busybox", mode: 0o755, data: bin },
    ...(await applets()).map((a): Entry => ({ type: "symlink", name: `bin/${a}`, target: "busybox" })),
    { type: "dir", name: "dev" },
    { type: "dir", name: "etc" },
    { type: "file", name: "etc/group", data: "root:x:0:\nnogroup:x:65534:\n" },
    { type: "file", name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" },
    { type: "dir", name: "home" },
    { type: "dir", name: "proc" },
    { type: "dir", name: "root", mode: 0o700 },
    { type: "dir", name: "sys" },
    { type: "dir", name: "tmp", mode: 0o1777 },
    { type: "dir", name: "usr" },
    { type: "dir", name: "var" },
  ];
  const seenDirs = new Set(entries.filter((e) => e.type === "dir").map((e) => e.name));
  for (const [path, content] of Object.entries(extraFiles).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const name = normName(path);
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!seenDirs.has(d)) {
        seenDirs.add(d);
        entries.push({ type: "dir", name: d });
      }
    }
    entries.push({ type: "file", name, data: content });
  }
  return entries;
}

function hostArch(): string {
  return process.arch === "x64" ? "amd64" : process.arch === "arm64" ? "arm64" : process.arch;
}

export async function busyboxImage(
  dir: string,
  opts: { arch?: string; cmd?: string[]; env?: string[]; extraFiles?: Record<string, string>; ref?: string } = {},
): Promise<Layout> {
  await initLayout(dir);
  const desc = await busyboxManifest(dir, opts);
  return setRef(dir, opts.ref ?? "latest", desc);
}

async function busyboxManifest(dir: string, opts: { arch?: string; cmd?: string[]; env?: string[]; extraFiles?: Record<string, string> }): Promise<Descriptor> {
  const arch = opts.arch ?? hostArch();
  const layer = await writeLayer(dir, await busyboxEntries(opts.extraFiles));
  return writeImage(dir, {
    architecture: arch,
    ...(arch === "arm64" ? { variant: "v8" } : {}),
    layers: [layer],
    config: { Env: [DEFAULT_PATH, ...(opts.env ?? [])], Cmd: opts.cmd ?? ["sh"] },
    history: ["ADD busybox rootfs"],
  });
}

/** An image index (nested under the ref) with linux/amd64 and linux/arm64/v8; each has /arch naming its arch. */
export async function multiArchImage(dir: string, opts: { ref?: string } = {}): Promise<Layout> {
  await initLayout(dir);
  const manifests: Descriptor[] = [];
  for (const arch of ["amd64", "arm64"]) manifests.push(await busyboxManifest(dir, { arch, extraFiles: { "/arch": `${arch}\n` } }));
  const index = await writeBlob(dir, MT.index, JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests }));
  return setRef(dir, opts.ref ?? "latest", index);
}

/** Two layers: the second deletes /a/gone with a whiteout and makes /d opaque (drops /d/old, adds /d/new). */
export async function whiteoutImage(dir: string, opts: { ref?: string } = {}): Promise<Layout> {
  await initLayout(dir);
  const l1 = await writeLayer(dir, [
    { type: "dir", name: "a" },
    { type: "file", name: "a/gone", data: "gone\n" },
    { type: "file", name: "a/keep", data: "keep\n" },
    { type: "dir", name: "d" },
    { type: "file", name: "d/old", data: "old\n" },
  ]);
  const l2 = await writeLayer(dir, [
    { type: "dir", name: "a" },
    { type: "file", name: "a/.wh.gone", data: "" },
    { type: "dir", name: "d" },
    { type: "file", name: "d/.wh..wh..opq", data: "" },
    { type: "file", name: "d/new", data: "new\n" },
  ]);
  const desc = await writeImage(dir, { architecture: hostArch(), layers: [l1, l2], config: { Env: [DEFAULT_PATH], Cmd: ["/bin/sh"] }, history: ["layer 1", "whiteouts"] });
  return setRef(dir, opts.ref ?? "latest", desc);
}

// ---------------------------------------------------------------------------------------------------------
// Benchmark image

/** Deterministic incompressible bytes: AES-256-CTR keystream keyed by the label. Fast (GB/s) and reproducible. */
function* randomChunks(label: string, size: number, chunk = 1 << 20): Generator<Buffer> {
  const key = createHash("sha256").update(label).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunk);
  for (let left = size; left > 0; left -= chunk) {
    const n = Math.min(chunk, left);
    yield cipher.update(n === chunk ? zeros : zeros.subarray(0, n));
  }
}

const MIB = 1 << 20;
const BIG_FILE_MAX = 32 * MIB;
const SMALL_FILES = 1000;

/**
 * A benchmark image: `layers` gzip layers of about totalMB/layers MB compressed each, made of large
 * pseudo-random files plus ~1000 small text files per layer. A layout already built with the same
 * parameters in `dir` is reused (its index carries them in an annotation).
 */
export async function bigImage(dir: string, opts: { layers: number; totalMB: number; seed?: number; ref?: string }): Promise<Layout> {
  if (!Number.isInteger(opts.layers) || opts.layers < 1) throw new Error("bigImage: layers must be a positive integer");
  const seed = opts.seed ?? 1;
  const ref = opts.ref ?? "latest";
  const params = JSON.stringify({ v: 1, layers: opts.layers, totalMB: opts.totalMB, seed });
  const existing = await fsp.readFile(join(dir, "index.json"), "utf8").catch(() => undefined);
  if (existing) {
    const idx = JSON.parse(existing) as { manifests: Descriptor[] };
    const hit = idx.manifests.find((m) => m.annotations?.[REF_NAME] === ref && m.annotations?.["berth.fixture.params"] === params);
    if (hit && existsSync(blobPath(dir, hit.digest))) return { dir, ref };
  }
  await initLayout(dir);
  const perLayer = Math.max(64 * 1024, Math.round((opts.totalMB * MIB) / opts.layers));
  const layers: LayerBlob[] = [];
  for (let l = 0; l < opts.layers; l++) {
    const entries: Entry[] = [{ type: "dir", name: `data${l}` }, { type: "dir", name: `data${l}/big` }];
    const nBig = Math.max(1, Math.ceil(perLayer / BIG_FILE_MAX));
    for (let f = 0; f < nBig; f++) {
      const size = Math.floor(perLayer / nBig);
      const label = `berth-bench seed=${seed} layer=${l} file=${f}`;
      entries.push({ type: "stream", name: `data${l}/big/blob${f}.bin`, size, chunks: () => randomChunks(label, size) });
    }
    for (let d = 0; d < SMALL_FILES / 100; d++) {
      entries.push({ type: "dir", name: `data${l}/small/d${d}` });
      for (let f = 0; f < 100; f++) {
        const line = `seed ${seed} layer ${l} dir ${d} file ${f}\n`;
        entries.push({ type: "file", name: `data${l}/small/d${d}/f${f}.txt`, data: line.repeat(1 + ((d * 100 + f) % 40)) });
      }
    }
    // The small-files dir itself must come before its subdirectories.
    entries.splice(2 + nBig, 0, { type: "dir", name: `data${l}/small` });
    layers.push(await writeLayer(dir, entries, { level: 1 }));
  }
  const desc = await writeImage(dir, {
    architecture: hostArch(),
    layers,
    config: { Env: [DEFAULT_PATH], Cmd: ["/bin/sh"] },
    history: layers.map((_, i) => `bench layer ${i}`),
  });
  return setRef(dir, ref, desc, { "berth.fixture.params": params });
}

// ---------------------------------------------------------------------------------------------------------
// skopeo converters

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * MIB }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${String(stderr).trim() || err.message}`));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function skopeo(args: string[]): Promise<{ stdout: string; stderr: string }> {
  // The fixtures are ours: no signature policy applies (and none may be configured on the machine).
  return run("skopeo", ["--insecure-policy", ...args]);
}

export async function pushLayout(
  layout: Layout,
  dest: { host: string; repo: string; tag: string; creds?: { username: string; password: string }; certDir?: string; tls: boolean },
): Promise<void> {
  const args = ["copy", "--all", "--quiet", `--dest-tls-verify=${dest.tls}`];
  if (dest.certDir) {
    // Accept both a certs.d-style root (<dir>/<host>/ca.crt) and the directory holding ca.crt itself.
    const perHost = join(dest.certDir, dest.host);
    args.push("--dest-cert-dir", existsSync(join(perHost, "ca.crt")) ? perHost : dest.certDir);
  }
  if (dest.creds) args.push("--dest-creds", `${dest.creds.username}:${dest.creds.password}`);
  args.push(`oci:${layout.dir}:${layout.ref}`, `docker://${dest.host}/${dest.repo}:${dest.tag}`);
  await skopeo(args);
}

/** docker-archive as skopeo writes it (a multi-arch layout yields the host platform's image). */
export async function toDockerArchive(layout: Layout, file: string, name: string): Promise<void> {
  await fsp.rm(file, { force: true });
  await skopeo(["copy", "--quiet", `oci:${layout.dir}:${layout.ref}`, `docker-archive:${file}:${name}`]);
}

/** oci-archive; `refName` sets the ref.name annotation inside it (default: the layout's ref). */
export async function toOciArchive(layout: Layout, file: string, refName?: string): Promise<void> {
  await fsp.rm(file, { force: true });
  await skopeo(["copy", "--quiet", `oci:${layout.dir}:${layout.ref}`, `oci-archive:${file}:${refName ?? layout.ref}`]);
}

/** Read a JSON blob of a layout (tests use it to look inside manifests and configs). */
export async function readLayoutBlob<T = unknown>(dir: string, digest: string): Promise<T> {
  return JSON.parse(await fsp.readFile(blobPath(dir, digest as Digest), "utf8")) as T;
}

/** The descriptor `ref` points at in a layout's index.json. */
export async function layoutRoot(layout: Layout): Promise<Descriptor> {
  const idx = JSON.parse(await fsp.readFile(join(layout.dir, "index.json"), "utf8")) as { manifests: Descriptor[] };
  const d = idx.manifests.find((m) => m.annotations?.[REF_NAME] === layout.ref);
  if (!d) throw new Error(`ref ${layout.ref} not found in ${layout.dir}`);
  return d;
}
