import type { Readable } from "node:stream";
import { sha256, type Digest } from "../../core/digest.js";
import { BerthError, invalid } from "../../core/errors.js";
import { INDEX_TYPES, MediaType, layerCompression, parseImageConfig, parseManifestBytes, type Descriptor, type Index, type Manifest } from "../../core/oci.js";
import { formatPlatform, hostPlatform, platformMatches } from "../../core/platform.js";
import { formatReference, parseTagReference, type Reference } from "../../core/reference.js";
import type { Lease } from "../../store/leases.js";
import type { ImageRecord, ImageWriter } from "../types.js";
import { openTar } from "./compress.js";
import { parseDockerManifest, parseRepositories } from "./docker-manifest.js";
import { readEntries, type ArchiveEntries } from "./entries.js";
import { namesFromAnnotations } from "./names.js";
import { detectCompression } from "./sniff.js";

export interface LoadOptions {
  onEvent?: (msg: string) => void;
}

const PREFIX = "not a docker-archive or OCI archive: ";

/** One image to commit: its manifest (already in the content store) and the names to give it. */
interface Planned {
  manifestDigest: Digest;
  configDigest: Digest;
  tags: Reference[];
}

function blobName(d: Digest): string {
  const i = d.indexOf(":");
  return `blobs/${d.slice(0, i)}/${d.slice(i + 1)}`;
}

function addTag(p: Planned, r: Reference): void {
  const full = formatReference(r);
  if (!p.tags.some((t) => formatReference(t) === full)) p.tags.push(r);
}

/** Pick the manifest to load from an index: the host's platform among those whose manifests the archive holds. */
function pickFromIndex(index: Index, entries: ArchiveEntries, emit: (m: string) => void): Descriptor {
  const present = index.manifests.filter((m) => !INDEX_TYPES.includes(m.mediaType) && entries.has(blobName(m.digest)));
  const host = hostPlatform();
  const match = present.find((m) => platformMatches(host, m.platform));
  if (match) return match;
  if (present.length === 1) {
    emit(`image platform ${present[0]!.platform ? formatPlatform(present[0]!.platform) : "(unknown)"} does not match the host (${formatPlatform(host)})`);
    return present[0]!;
  }
  const have = present.map((m) => (m.platform ? formatPlatform(m.platform) : m.digest)).join(", ") || "none";
  throw invalid(`the archive's image index has no manifest for ${formatPlatform(host)} (platforms in the archive: ${have})`);
}

async function checkedBlob(entries: ArchiveEntries, d: Descriptor, what: string): Promise<void> {
  const name = blobName(d.digest);
  if (!entries.has(name)) throw invalid(`${what} ${d.digest} is missing from the archive`);
  const found = entries.info(name);
  if (found.digest !== d.digest) throw invalid(`${what} ${d.digest} is corrupt: its content hashes to ${found.digest}`);
  const info = await entries.blob(name);
  if (info.size !== d.size) throw invalid(`${what} ${d.digest} has ${info.size} bytes, its descriptor says ${d.size}`);
}

async function planOci(entries: ArchiveEntries, emit: (m: string) => void): Promise<Planned[]> {
  let layout: unknown;
  try {
    layout = JSON.parse((await entries.bytes("oci-layout")).toString("utf8"));
  } catch {
    throw invalid("oci-layout is not valid JSON");
  }
  if (typeof (layout as { imageLayoutVersion?: unknown })?.imageLayoutVersion !== "string") throw invalid("oci-layout has no imageLayoutVersion");
  const top = parseManifestBytes(await entries.bytes("index.json"));
  if (top.kind !== "index") throw invalid("index.json is not an image index");
  const byManifest = new Map<string, Planned>();
  for (const desc of top.index.manifests) {
    let mdesc = desc;
    if (INDEX_TYPES.includes(desc.mediaType)) {
      if (!entries.has(blobName(desc.digest))) throw invalid(`image index ${desc.digest} is missing from the archive`);
      const nested = parseManifestBytes(await entries.bytes(blobName(desc.digest)));
      if (nested.kind !== "index") throw invalid(`blob ${desc.digest} is not an image index`);
      mdesc = pickFromIndex(nested.index, entries, emit);
    } else if (!(desc.mediaType === MediaType.OciManifest || desc.mediaType === MediaType.DockerManifest)) {
      emit(`skipping ${desc.digest}: unsupported media type ${desc.mediaType}`);
      continue;
    }
    let plan = byManifest.get(mdesc.digest);
    if (!plan) {
      await checkedBlob(entries, mdesc, "manifest");
      const parsed = parseManifestBytes(await entries.bytes(blobName(mdesc.digest)));
      if (parsed.kind !== "manifest") throw invalid(`blob ${mdesc.digest} is not an image manifest`);
      const m: Manifest = parsed.manifest;
      await checkedBlob(entries, m.config, "image config");
      const config = parseImageConfig(await entries.bytes(blobName(m.config.digest)));
      if (config.rootfs.diff_ids.length !== m.layers.length) {
        throw invalid(`image ${m.config.digest}: config lists ${config.rootfs.diff_ids.length} diff_ids but the manifest has ${m.layers.length} layers`);
      }
      for (const l of m.layers) {
        layerCompression(l.mediaType);
        await checkedBlob(entries, l, "layer");
      }
      plan = { manifestDigest: mdesc.digest, configDigest: m.config.digest, tags: [] };
      byManifest.set(mdesc.digest, plan);
    }
    const names = namesFromAnnotations(desc.annotations);
    for (const t of names.tags) addTag(plan, t);
    if (names.ignored) emit(`"${names.ignored}" is not an image name: image ${plan.configDigest} loaded without it`);
  }
  if (byManifest.size === 0) throw invalid("index.json lists no loadable images");
  return [...byManifest.values()];
}

function layerMediaType(head: Uint8Array, path: string): string {
  const c = detectCompression(head);
  if (c === "gzip") return MediaType.OciLayerGzip;
  if (c === "zstd") return MediaType.OciLayerZstd;
  if (c === "none") return MediaType.OciLayer;
  throw invalid(`layer ${path} is ${c}-compressed, which is not supported`);
}

async function planDocker(entries: ArchiveEntries, writer: ImageWriter, lease: Lease): Promise<Planned[]> {
  const items = parseDockerManifest(await entries.bytes("manifest.json"));
  const repos = entries.has("repositories") ? parseRepositories(await entries.bytes("repositories")) : undefined;
  const plans: Planned[] = [];
  for (const item of items) {
    if (!entries.has(item.config)) throw invalid(`image config ${item.config} is missing from the archive`);
    const config = parseImageConfig(await entries.bytes(item.config));
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== item.layers.length) throw invalid(`${item.config}: config lists ${diffIds.length} diff_ids but manifest.json lists ${item.layers.length} layers`);
    const cfg = await entries.blob(item.config);
    const layers: Descriptor[] = [];
    for (const [i, path] of item.layers.entries()) {
      if (!entries.has(path)) throw invalid(`layer ${path} is missing from the archive`);
      const info = entries.info(path);
      const mediaType = layerMediaType(info.head, path);
      if (mediaType === MediaType.OciLayer && info.digest !== diffIds[i]) throw invalid(`layer ${path} hashes to ${info.digest}, but the config's diff_id is ${diffIds[i]}`);
      await entries.blob(path);
      layers.push({ mediaType, digest: info.digest, size: info.size });
    }
    // The synthesized manifest is a pure function of the archive, so loading it twice gives the same digest.
    const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size }, layers };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = sha256(bytes);
    lease.add("blob", manifestDigest);
    if (!(await writer.content.has(manifestDigest))) await writer.content.put(bytes, manifestDigest);
    const plan: Planned = { manifestDigest, configDigest: cfg.digest, tags: [] };
    for (const t of item.repoTags) if (t !== "<none>:<none>") addTag(plan, parseTagReference(t));
    if (plan.tags.length === 0 && repos && item.layers.length > 0) {
      // Legacy names: repositories maps repo -> tag -> v1 ID of the top layer's directory.
      const top = entries.resolveName(item.layers[item.layers.length - 1]!);
      for (const [repo, tags] of Object.entries(repos)) {
        for (const [tag, id] of Object.entries(tags)) {
          if (entries.has(`${id}/layer.tar`) && entries.resolveName(`${id}/layer.tar`) === top) addTag(plan, parseTagReference(`${repo}:${tag}`));
        }
      }
    }
    plans.push(plan);
  }
  return plans;
}

/** Names from a Docker 25+ archive's manifest.json, by config digest, to add to what index.json says. */
async function dockerTagsByConfig(entries: ArchiveEntries): Promise<Map<string, Reference[]>> {
  const out = new Map<string, Reference[]>();
  for (const item of parseDockerManifest(await entries.bytes("manifest.json"))) {
    if (!entries.has(item.config)) continue;
    const d = entries.info(item.config).digest;
    out.set(d, [...(out.get(d) ?? []), ...item.repoTags.filter((t) => t !== "<none>:<none>").map((t) => parseTagReference(t))]);
  }
  return out;
}

/**
 * Load every image of a docker-archive (docker save, skopeo, Docker 25+'s combined form) or an OCI layout
 * archive, optionally gzip- or zstd-compressed. The tar is read once; the images become visible only when
 * all their content is stored, through the writer's commit. On a bad archive nothing is committed, and
 * what was stored is left to the lease (released here), so prune can collect it.
 */
export async function loadArchive(writer: ImageWriter, input: Readable, opts: LoadOptions = {}): Promise<ImageRecord[]> {
  const emit = opts.onEvent ?? (() => {});
  const lease = writer.createLease();
  let entries: ArchiveEntries | undefined;
  try {
    let plans: Planned[];
    try {
      const tarStream = await openTar(input, "the input");
      entries = await readEntries(tarStream, writer.content, lease);
      const oci = entries.has("oci-layout") && entries.has("index.json");
      if (oci) {
        plans = await planOci(entries, emit);
        if (entries.has("manifest.json")) {
          const extra = await dockerTagsByConfig(entries);
          for (const p of plans) for (const t of extra.get(p.configDigest) ?? []) addTag(p, t);
        }
      } else if (entries.has("manifest.json")) {
        plans = await planDocker(entries, writer, lease);
      } else if (entries.has("repositories")) {
        throw invalid("docker-archive without manifest.json (Docker before 1.10) is not supported");
      } else {
        throw invalid("found neither manifest.json (docker-archive) nor oci-layout and index.json (OCI layout)");
      }
    } catch (e) {
      if (e instanceof BerthError && e.code === "INVALID_ARGUMENT" && !e.message.startsWith(PREFIX)) throw invalid(PREFIX + e.message, e);
      throw e;
    }
    // A tag named by two images in one archive goes to the last, as docker load does; commit in order.
    const out: ImageRecord[] = [];
    for (const p of plans) {
      emit(`Loading ${p.tags.length ? p.tags.map((t) => formatReference(t)).join(", ") : p.configDigest}`);
      out.push(await writer.commit({ manifestDigest: p.manifestDigest, tags: p.tags, lease }));
    }
    // Records are returned after all commits: a later image may have taken a tag from an earlier one.
    return out.map((r) => refreshTags(r, out));
  } finally {
    await entries?.cleanup();
    lease.release();
  }
}

function refreshTags(r: ImageRecord, all: ImageRecord[]): ImageRecord {
  const later = all.slice(all.indexOf(r) + 1);
  const taken = new Set(later.flatMap((x) => (x.id === r.id ? [] : x.tags)));
  return { ...r, tags: r.tags.filter((t) => !taken.has(t)) };
}
