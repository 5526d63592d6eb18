import { invalid } from "./errors.js";
import { parseDigest, type Digest } from "./digest.js";

export const DEFAULT_DOMAIN = "docker.io";
export const DEFAULT_TAG = "latest";

/** A fully normalised image reference: docker.io/library/busybox:latest, host:5000/a/b@sha256:... */
export interface Reference {
  domain: string;
  /** Repository path below the domain, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: Digest;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

function looksLikeDomain(first: string): boolean {
  return first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase();
}

function validDomain(d: string): boolean {
  let host = d;
  let port: string | undefined;
  if (d.startsWith("[")) {
    const end = d.indexOf("]");
    if (end < 0) return false;
    host = d.slice(1, end);
    const rest = d.slice(end + 1);
    if (rest && !rest.startsWith(":")) return false;
    port = rest ? rest.slice(1) : undefined;
    if (!/^[0-9a-fA-F:.]+$/.test(host)) return false;
  } else {
    const c = d.lastIndexOf(":");
    if (c >= 0) {
      host = d.slice(0, c);
      port = d.slice(c + 1);
    }
    if (!host.split(".").every((l) => DOMAIN_LABEL.test(l))) return false;
  }
  return port === undefined || (/^\d+$/.test(port) && Number(port) > 0 && Number(port) < 65536);
}

/**
 * Parse and normalise a user-supplied reference the way Docker does:
 * `busybox` -> docker.io/library/busybox:latest. A reference with only a digest gets no tag.
 */
export function parseReference(input: string): Reference {
  const bad = (why: string) => invalid(`invalid reference "${input}": ${why}`);
  if (!input) throw bad("empty");
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    try {
      digest = parseDigest(rest.slice(at + 1));
    } catch (e) {
      throw bad((e as Error).message.replace(/^invalid digest "[^"]*": /, "digest "));
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  if (!rest) throw bad("missing repository name");
  const parts = rest.split("/");
  let domain = DEFAULT_DOMAIN;
  if (parts.length > 1 && looksLikeDomain(parts[0]!)) {
    domain = parts.shift()!;
    if (!validDomain(domain)) throw bad(`registry host "${domain}" is not a valid host[:port]`);
  }
  if (domain === "index.docker.io" || domain === "registry-1.docker.io") domain = DEFAULT_DOMAIN;
  for (const p of parts) {
    if (p !== p.toLowerCase()) throw bad("repository name must be lowercase");
    if (!COMPONENT.test(p)) throw bad(`path component "${p}" is not valid`);
  }
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift("library");
  const path = parts.join("/");
  if (domain.length + 1 + path.length > 255) throw bad("name longer than 255 characters");
  if (!tag && !digest) tag = DEFAULT_TAG;
  return { domain, path, tag, digest };
}

/** "docker.io/library/busybox" */
export function repositoryOf(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** Canonical string: repo[:tag][@digest]. */
export function formatReference(r: Reference): string {
  return repositoryOf(r) + (r.tag ? `:${r.tag}` : "") + (r.digest ? `@${r.digest}` : "");
}

/** Short form as Docker prints it: busybox:latest, user/app:1, host:5000/x:y. */
export function familiarName(repository: string): string {
  if (repository.startsWith(`${DEFAULT_DOMAIN}/library/`)) return repository.slice(`${DEFAULT_DOMAIN}/library/`.length);
  if (repository.startsWith(`${DEFAULT_DOMAIN}/`)) return repository.slice(DEFAULT_DOMAIN.length + 1);
  return repository;
}

/** A reference to tag an image with must have a tag and no digest. */
export function parseTagReference(input: string): Reference & { tag: string } {
  const r = parseReference(input);
  if (r.digest) throw invalid(`invalid reference "${input}": cannot tag with a digest`);
  return r as Reference & { tag: string };
}

/** The registry host used for requests: docker.io is served by registry-1.docker.io. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? "registry-1.docker.io" : domain;
}
