import { posix } from "node:path";
import { z } from "zod";
import { invalid } from "../../core/errors.js";

/**
 * The docker-archive `manifest.json` (docker save since 1.10, skopeo's docker-archive, and the Docker 25+
 * combined OCI form): one entry per image with paths inside the archive.
 */
const entrySchema = z
  .object({
    Config: z.string().min(1),
    RepoTags: z.array(z.string()).nullable().optional(),
    Layers: z.array(z.string().min(1)),
    Parent: z.string().optional(),
    LayerSources: z.record(z.object({}).passthrough()).nullable().optional(),
  })
  .passthrough();

export const dockerManifestSchema = z.array(entrySchema);

export interface DockerManifestEntry {
  config: string;
  repoTags: string[];
  layers: string[];
}

/** The legacy `repositories` file: { "repo": { "tag": "<v1 id of the top layer>" } }. */
export const repositoriesSchema = z.record(z.record(z.string()));

/** "./a//b" -> "a/b"; a path that leaves the archive root is an error. */
export function archivePath(p: string): string {
  const n = posix.normalize(p.replace(/^\/+/, "")).replace(/\/$/, "");
  if (!n || n === "." || n === ".." || n.startsWith("../")) throw invalid(`archive path "${p}" is not valid`);
  return n;
}

function parseJson(bytes: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw invalid(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function issue(err: z.ZodError): string {
  const i = err.issues[0]!;
  return `${i.path.join(".") || "(root)"}: ${i.message}`;
}

export function parseDockerManifest(bytes: Uint8Array | string): DockerManifestEntry[] {
  const r = dockerManifestSchema.safeParse(parseJson(bytes, "manifest.json"));
  if (!r.success) throw invalid(`manifest.json is invalid: ${issue(r.error)}`);
  if (r.data.length === 0) throw invalid("manifest.json lists no images");
  return r.data.map((e) => ({ config: archivePath(e.Config), repoTags: e.RepoTags ?? [], layers: e.Layers.map(archivePath) }));
}

export function parseRepositories(bytes: Uint8Array | string): Record<string, Record<string, string>> {
  const r = repositoriesSchema.safeParse(parseJson(bytes, "repositories"));
  if (!r.success) throw invalid(`repositories is invalid: ${issue(r.error)}`);
  return r.data;
}
