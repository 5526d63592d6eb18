import { parseReference, type Reference } from "../../core/reference.js";

/** The annotations OCI layouts name images with (containerd and Docker 25+ write both). */
export const REF_NAME = "org.opencontainers.image.ref.name";
export const CONTAINERD_NAME = "io.containerd.image.name";

/**
 * Names from an OCI descriptor's annotations: io.containerd.image.name is a full name; a ref.name is used
 * only when it is itself a name (has ":" or "/"), since a bare "latest" says nothing about the repository.
 */
export function namesFromAnnotations(annotations: Record<string, string> | undefined): { tags: Reference[]; ignored?: string } {
  const full = annotations?.[CONTAINERD_NAME];
  const ref = annotations?.[REF_NAME];
  for (const candidate of [full, ref && /[:/]/.test(ref) ? ref : undefined]) {
    if (!candidate) continue;
    try {
      const r = parseReference(candidate);
      if (r.tag) return { tags: [{ domain: r.domain, path: r.path, tag: r.tag }] };
    } catch {
      /* not a usable name: try the next annotation */
    }
  }
  return ref || full ? { tags: [], ignored: full ?? ref! } : { tags: [] };
}

