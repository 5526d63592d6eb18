import { invalid } from "./errors.js";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** The host platform in OCI terms, from Node's names. */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  const p: Platform = { os: "linux", architecture };
  if (architecture === "arm64") p.variant = "v8";
  return p;
}

const ALIASES: Record<string, string> = { x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", armhf: "arm", armel: "arm", i386: "386" };

export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p))) {
    throw invalid(`invalid platform "${s}": expected os/arch[/variant]`);
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  const p: Platform = { os: os.toLowerCase(), architecture: ALIASES[arch.toLowerCase()] ?? arch.toLowerCase() };
  if (variant) p.variant = variant.toLowerCase();
  else if (arch.toLowerCase() === "armhf") p.variant = "v7";
  else if (arch.toLowerCase() === "armel") p.variant = "v6";
  return p;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/**
 * Does a manifest's platform satisfy the wanted one? A missing wanted variant matches any variant;
 * arm64's default variant v8 matches an absent one, as containerd's matcher does.
 */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  if (!want.variant) return true;
  const hv = have.variant ?? (have.architecture === "arm64" ? "v8" : undefined);
  return hv === undefined ? want.variant === "v8" && want.architecture === "arm64" : hv === want.variant;
}
