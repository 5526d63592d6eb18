import { z } from "zod";
import { isDigest, type Digest } from "./digest.js";
import { invalid } from "./errors.js";
import type { Platform } from "./platform.js";

export { MediaType, MANIFEST_TYPES, INDEX_TYPES, ACCEPT_MANIFESTS, layerCompression, type Compression } from "./media-types.js";
import { INDEX_TYPES, MANIFEST_TYPES, MediaType } from "./media-types.js";

const digest = z.string().refine(isDigest, { message: "invalid digest" }).transform((s) => s as Digest);
const platform = z.object({
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
  "os.version": z.string().optional(),
  "os.features": z.array(z.string()).optional(),
});

export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string()).optional(),
  platform: platform.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: z.record(z.string()).optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string()).optional(),
});
export type Index = z.infer<typeof indexSchema>;

export const imageConfigSchema = z
  .object({
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional(),
    created: z.string().optional(),
    author: z.string().optional(),
    config: z
      .object({
        User: z.string().optional(),
        ExposedPorts: z.record(z.object({}).passthrough()).optional().nullable(),
        Env: z.array(z.string()).optional().nullable(),
        Entrypoint: z.array(z.string()).optional().nullable(),
        Cmd: z.array(z.string()).optional().nullable(),
        Volumes: z.record(z.object({}).passthrough()).optional().nullable(),
        WorkingDir: z.string().optional(),
        Labels: z.record(z.string()).optional().nullable(),
        StopSignal: z.string().optional(),
      })
      .passthrough()
      .optional()
      .nullable(),
    rootfs: z.object({ type: z.literal("layers"), diff_ids: z.array(digest) }),
    history: z.array(z.object({}).passthrough()).optional(),
  })
  .passthrough();
export type ImageConfig = z.infer<typeof imageConfigSchema>;

function parseJson(bytes: Uint8Array | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw invalid(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function check<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw invalid(`${what} is invalid: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  return r.data;
}

export type ParsedManifest = { kind: "manifest"; mediaType: string; manifest: Manifest } | { kind: "index"; mediaType: string; index: Index };

/**
 * Classify and validate manifest bytes. The registry's Content-Type wins when it names a kind we know;
 * otherwise the document's own mediaType, otherwise its shape (OCI allows both to be absent).
 */
export function parseManifestBytes(bytes: Uint8Array | string, contentType?: string): ParsedManifest {
  const doc = parseJson(bytes, "manifest") as Record<string, unknown>;
  if (!doc || typeof doc !== "object") throw invalid("manifest is not a JSON object");
  const ct = contentType?.split(";")[0]?.trim();
  let mt = [...INDEX_TYPES, ...MANIFEST_TYPES].includes(ct ?? "") ? ct! : typeof doc.mediaType === "string" ? doc.mediaType : "";
  if (mt === MediaType.DockerSchema1Signed || doc.schemaVersion === 1) {
    throw invalid("manifest is Docker schema 1, which is deprecated and not supported");
  }
  if (!mt) mt = Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  if (INDEX_TYPES.includes(mt)) return { kind: "index", mediaType: mt, index: check(indexSchema, doc, "image index") };
  if (MANIFEST_TYPES.includes(mt)) return { kind: "manifest", mediaType: mt, manifest: check(manifestSchema, doc, "image manifest") };
  throw invalid(`unsupported manifest media type "${mt}"`);
}

export function parseImageConfig(bytes: Uint8Array | string): ImageConfig {
  return check(imageConfigSchema, parseJson(bytes, "image config"), "image config");
}

export function configPlatform(c: ImageConfig): Platform {
  return { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
}
