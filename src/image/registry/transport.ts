/**
 * How to talk to one registry: scheme policy (HTTPS, verification, HTTP fallback) and TLS material from
 * certs.d / --cert-dir. Pure decisions plus synchronous reads of small files; no network.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import type { BerthConfig } from "../../engine/config.js";
import { invalid } from "../../core/errors.js";

export const DEFAULT_CERTS_DIRS: readonly string[] = ["/etc/berth/certs.d", "/etc/containers/certs.d", "/etc/docker/certs.d"];

/** "host:port" -> { hostname, port }; handles "[::1]:5000". */
export function splitHostPort(domain: string): { hostname: string; port?: string } {
  if (domain.startsWith("[")) {
    const end = domain.indexOf("]");
    const hostname = domain.slice(1, end);
    const rest = domain.slice(end + 1);
    return { hostname, port: rest.startsWith(":") ? rest.slice(1) : undefined };
  }
  const c = domain.lastIndexOf(":");
  // a bare IPv6 address has several colons and no port
  if (c >= 0 && domain.indexOf(":") === c) return { hostname: domain.slice(0, c), port: domain.slice(c + 1) };
  return { hostname: domain };
}

export function isLoopbackHost(domain: string): boolean {
  const { hostname } = splitHostPort(domain);
  const h = hostname.toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIPv4(h)) return h.startsWith("127.");
  if (isIPv6(h)) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./i.test(h);
  return false;
}

/**
 * Is `domain` listed in registries.insecure? Entries are "host:port" (exact), "host" (any port) or an
 * IPv4/IPv6 CIDR ("10.0.0.0/8") matching the host's address.
 */
export function isListedInsecure(domain: string, insecure: readonly string[]): boolean {
  const { hostname } = splitHostPort(domain);
  for (const raw of insecure) {
    const e = raw.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
    if (!e) continue;
    if (e === domain) return true;
    if (e.includes("/")) {
      const [net, bits] = e.split("/");
      const family = isIPv4(net!) ? "ipv4" : isIPv6(net!) ? "ipv6" : undefined;
      const hfam = isIPv4(hostname) ? "ipv4" : isIPv6(hostname) ? "ipv6" : undefined;
      if (!family || family !== hfam || !/^\d+$/.test(bits ?? "")) continue;
      const bl = new BlockList();
      try {
        bl.addSubnet(net!, Number(bits), family);
      } catch {
        continue;
      }
      if (bl.check(hostname, family)) return true;
      continue;
    }
    if (splitHostPort(e).port === undefined && e === hostname) return true;
  }
  return false;
}

export interface TransportPolicy {
  /** Try plain HTTP when the server does not speak TLS at all. */
  allowHttp: boolean;
  /** Do not verify the server certificate. */
  skipVerify: boolean;
}

/**
 * Our rule (stricter than Docker's, deliberately): HTTPS first, always. Plain HTTP only as a fallback when the
 * server does not speak TLS and the registry is insecure (config-listed, loopback, or --tls-verify=false).
 * Certificate verification is skipped only for config-listed registries or --tls-verify=false; a loopback
 * registry with an unknown CA is refused.
 */
export function transportPolicy(domain: string, config: BerthConfig, tlsVerify?: boolean): TransportPolicy {
  if (tlsVerify === true) return { allowHttp: false, skipVerify: false };
  if (tlsVerify === false) return { allowHttp: true, skipVerify: true };
  const listed = isListedInsecure(domain, config.registries?.insecure ?? []);
  return { allowHttp: listed || isLoopbackHost(domain), skipVerify: listed };
}

export interface TlsMaterial {
  /** Extra CA certificates (PEM) found for this registry. */
  caFiles: string[];
  ca: string[];
  certFile?: string;
  keyFile?: string;
  cert?: string;
  key?: string;
}

function listDir(dir: string): string[] | undefined {
  try {
    if (!statSync(dir).isDirectory()) return undefined;
    return readdirSync(dir).sort();
  } catch {
    return undefined;
  }
}

/** Read one certs.d-style directory: *.crt are CAs, *.cert + same-named *.key is a client pair. */
function readCertDir(dir: string, into: TlsMaterial): boolean {
  const names = listDir(dir);
  if (!names) return false;
  for (const n of names) {
    const p = join(dir, n);
    if (n.endsWith(".crt")) {
      into.caFiles.push(p);
      into.ca.push(readFileSync(p, "utf8"));
    } else if (n.endsWith(".cert")) {
      const keyName = n.slice(0, -".cert".length) + ".key";
      if (!names.includes(keyName)) throw invalid(`client certificate ${p} has no matching key ${join(dir, keyName)}`);
      if (!into.certFile) {
        into.certFile = p;
        into.keyFile = join(dir, keyName);
        into.cert = readFileSync(p, "utf8");
        into.key = readFileSync(into.keyFile, "utf8");
      }
    } else if (n.endsWith(".key")) {
      const certName = n.slice(0, -".key".length) + ".cert";
      if (!names.includes(certName)) throw invalid(`client key ${p} has no matching certificate ${join(dir, certName)}`);
    }
  }
  return true;
}

/**
 * TLS material for a registry: --cert-dir if given (files directly in it), else every existing
 * <certsDir>/<host[:port]>/ in order (CAs accumulate; the first client pair wins). `aliases` are other names
 * the registry is known by (docker.io -> registry-1.docker.io).
 */
export function loadTlsMaterial(domain: string, opts: { certDir?: string; certsDirs?: readonly string[]; aliases?: readonly string[] }): TlsMaterial {
  const m: TlsMaterial = { caFiles: [], ca: [] };
  if (opts.certDir) {
    if (!listDir(opts.certDir)) throw invalid(`cert dir ${opts.certDir} is not a readable directory`);
    readCertDir(opts.certDir, m);
    return m;
  }
  const names = [domain, ...(opts.aliases ?? []).filter((a) => a !== domain)];
  for (const base of opts.certsDirs ?? DEFAULT_CERTS_DIRS) for (const n of names) readCertDir(join(base, n), m);
  return m;
}

const HOST_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
let systemRoots: string[] | undefined;

/**
 * The default trust store: the host's CA bundle (where admins add their own CAs; it already holds the
 * public roots) or, without one, Node's bundled roots; plus the extra CA file bin/berth took over from
 * NODE_EXTRA_CA_CERTS. Read once, on the first TLS use: parsing a few hundred roots costs tens of ms.
 */
export function systemCaCerts(): string[] {
  if (systemRoots) return systemRoots;
  const read = (f: string | undefined): string | undefined => {
    if (!f) return undefined;
    try {
      return readFileSync(f, "utf8");
    } catch {
      return undefined;
    }
  };
  const host = HOST_BUNDLES.map(read).find((t) => t !== undefined);
  const extra = read(process.env.BERTH_EXTRA_CA_CERTS);
  systemRoots = [...(host !== undefined ? [host] : rootCertificates), ...(extra !== undefined && extra !== host ? [extra] : [])];
  return systemRoots;
}

/** undici/tls connect options. Node's `ca` replaces the default trust store, so the system roots are prepended. */
export function tlsConnectOptions(m: TlsMaterial, policy: TransportPolicy): { ca?: string[]; cert?: string; key?: string; rejectUnauthorized: boolean } {
  const o: { ca?: string[]; cert?: string; key?: string; rejectUnauthorized: boolean } = { rejectUnauthorized: !policy.skipVerify };
  o.ca = [...systemCaCerts(), ...m.ca];
  if (m.cert && m.key) {
    o.cert = m.cert;
    o.key = m.key;
  }
  return o;
}
