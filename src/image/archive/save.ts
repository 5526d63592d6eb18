import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import * as tar from "tar-stream";
import { digestHex, sha256, type Digest } from "../../core/digest.js";
import { internal } from "../../core/errors.js";
import { layerCompression, type Descriptor } from "../../core/oci.js";
import { familiarName, formatReference, parseReference } from "../../core/reference.js";
import type { ContentStore } from "../../store/content.js";
import type { ImageReader, ImageRecord } from "../types.js";
import { HashCounter, ingestTempPath } from "./blob-io.js";
import { decompressor } from "./compress.js";
import { CONTAINERD_NAME, REF_NAME } from "./names.js";

export interface SaveOptions {
  format: "docker-archive" | "oci-archive";
  gzip?: boolean;
}

/** Fixed metadata keeps two saves of the same images byte-identical. */
const HEADER = { mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "" };

type Pack = ReturnType<typeof tar.pack>;

function addBuffer(pack: Pack, name: string, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ ...HEADER, name, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())));
}

function addSymlink(pack: Pack, name: string, target: string): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ ...HEADER, name, type: "symlink", linkname: target, mode: 0o777 }, (err) => (err ? reject(err) : resolve())));
}

function addDir(pack: Pack, name: string): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ ...HEADER, name, type: "directory", mode: 0o755 }, (err) => (err ? reject(err) : resolve())));
}

/** Stream `size` bytes from `source` into a tar member, respecting the pack's backpressure. */
function addStream(pack: Pack, name: string, size: number, source: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry({ ...HEADER, name, mode: 0o644, size }, (err) => (err ? reject(err) : resolve()));
    void (async () => {
      for await (const chunk of source) {
        if (!sink.write(chunk)) await new Promise<void>((r) => sink.once("drain", () => r()));
      }
      sink.end(undefined);
    })().catch((e: Error) => {
      sink.destroy(e);
      reject(e);
    });
  });
}

/** One image to save and the full tag names it was asked for by (none when asked for by ID or digest). */
interface Selected {
  image: ImageRecord;
  tags: string[];
}

function tagAskedFor(name: string, image: ImageRecord): string | undefined {
  try {
    const r = parseReference(name);
    if (r.digest) return undefined;
    const full = formatReference(r);
    return image.tags.includes(full) ? full : undefined;
  } catch {
    return undefined;
  }
}

function select(reader: ImageReader, names: string[]): Selected[] {
  const byId = new Map<string, Selected>();
  for (const n of names) {
    const image = reader.resolve(n);
    const s = byId.get(image.id) ?? byId.set(image.id, { image, tags: [] }).get(image.id)!;
    const t = tagAskedFor(n, image);
    if (t && !s.tags.includes(t)) s.tags.push(t);
  }
  return [...byId.values()];
}

/** Split "docker.io/library/busybox:latest" into its repository and tag. */
function splitTag(full: string): { repository: string; tag: string } {
  const r = parseReference(full);
  return { repository: `${r.domain}/${r.path}`, tag: r.tag ?? "latest" };
}

/**
 * An uncompressed layer for a docker-archive: stored uncompressed blobs stream as they are; compressed
 * ones are decompressed into a temp file first (a tar header needs the size), checking the diff_id.
 */
async function uncompressedLayer(content: ContentStore, layer: ImageRecord["layers"][number]): Promise<{ size: number; open: () => Readable; done: () => Promise<void> }> {
  const c = layerCompression(layer.mediaType);
  if (c === "none") return { size: await content.size(layer.blobDigest), open: () => content.stream(layer.blobDigest), done: async () => {} };
  const tmp = ingestTempPath(content, "save");
  const hc = new HashCounter();
  try {
    await pipeline(content.stream(layer.blobDigest), decompressor(c), hc, createWriteStream(tmp, { mode: 0o600 }));
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  const got = hc.digest();
  if (got !== layer.diffId) {
    await fsp.rm(tmp, { force: true });
    throw internal(`layer ${layer.blobDigest} decompresses to ${got}, but the image says its diff_id is ${layer.diffId}`);
  }
  return { size: hc.size, open: () => createReadStream(tmp, { highWaterMark: 1 << 20 }), done: () => fsp.rm(tmp, { force: true }) };
}

/** Legacy v1 layer IDs for docker-archive's `<id>/` directories and `repositories`: stable per layer stack. */
function v1Id(chainId: Digest): string {
  return digestHex(sha256(`berth-v1 ${chainId}`));
}

async function writeDockerArchive(reader: ImageReader, pack: Pack, selected: Selected[]): Promise<void> {
  const content = reader.content;
  const written = new Set<string>();
  const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { image, tags } of selected) {
    const layers: string[] = [];
    let parent: string | undefined;
    for (const layer of image.layers) {
      const file = `${digestHex(layer.diffId)}.tar`;
      const id = v1Id(layer.chainId);
      if (!written.has(file)) {
        const l = await uncompressedLayer(content, layer);
        try {
          await addStream(pack, file, l.size, l.open());
        } finally {
          await l.done();
        }
        written.add(file);
      }
      if (!written.has(id)) {
        await addDir(pack, `${id}/`);
        await addBuffer(pack, `${id}/VERSION`, "1.0");
        await addBuffer(pack, `${id}/json`, JSON.stringify({ id, ...(parent ? { parent } : {}), created: "1970-01-01T00:00:00Z", os: image.platform.os }));
        await addSymlink(pack, `${id}/layer.tar`, `../${file}`);
        written.add(id);
      }
      layers.push(file);
      parent = id;
    }
    const configFile = `${digestHex(image.id)}.json`;
    if (!written.has(configFile)) {
      await addBuffer(pack, configFile, await content.read(image.id));
      written.add(configFile);
    }
    manifest.push({ Config: configFile, RepoTags: tags.map(familiarName), Layers: layers });
    for (const t of tags) {
      const { repository, tag } = splitTag(t);
      if (parent) (repositories[familiarName(repository)] ??= {})[tag] = parent;
    }
  }
  await addBuffer(pack, "manifest.json", JSON.stringify(manifest));
  await addBuffer(pack, "repositories", JSON.stringify(repositories));
}

async function writeOciArchive(reader: ImageReader, pack: Pack, selected: Selected[]): Promise<void> {
  const content = reader.content;
  await addBuffer(pack, "oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await addDir(pack, "blobs/");
  await addDir(pack, "blobs/sha256/");
  const written = new Set<string>();
  const blob = async (d: Digest, bytes?: Buffer) => {
    if (written.has(d)) return;
    written.add(d);
    const name = `blobs/sha256/${digestHex(d)}`;
    if (bytes) await addBuffer(pack, name, bytes);
    else await addStream(pack, name, await content.size(d), content.stream(d));
  };
  const manifests: Descriptor[] = [];
  for (const { image, tags } of selected) {
    // Blobs exactly as stored: the manifest digest in the archive is the one in the store.
    const mbytes = await content.read(image.manifestDigest);
    for (const l of image.layers) await blob(l.blobDigest);
    await blob(image.id);
    await blob(image.manifestDigest, mbytes);
    const desc: Descriptor = { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: mbytes.length, platform: image.platform };
    if (tags.length === 0) manifests.push(desc);
    for (const t of tags) manifests.push({ ...desc, annotations: { [CONTAINERD_NAME]: t, [REF_NAME]: splitTag(t).tag } });
  }
  await addBuffer(pack, "index.json", JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
}

/**
 * Write images to a docker-archive (manifest.json + repositories, uncompressed layers, as docker save and
 * skopeo write) or an OCI layout archive (blobs as stored, one index entry per name), optionally gzipped.
 * The output is ended unless it is the process's stdout.
 */
export async function saveArchive(reader: ImageReader, names: string[], output: Writable, opts: SaveOptions): Promise<void> {
  const selected = select(reader, names);
  const pack = tar.pack();
  const end = output !== process.stdout;
  const sink = opts.gzip ? pipeline(pack, createGzip(), output, { end }) : pipeline(pack, output, { end });
  // Until the pack is finalized, a failing sink must not be an unhandled rejection.
  sink.catch(() => {});
  try {
    if (opts.format === "oci-archive") await writeOciArchive(reader, pack, selected);
    else await writeDockerArchive(reader, pack, selected);
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    await sink.catch(() => {});
    throw e;
  }
  await sink;
}
