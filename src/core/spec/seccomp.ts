/**
 * The default seccomp filter for a container: berth's profile (seccomp-profile.ts) specialised to the container's
 * capabilities and the host's architecture, in the OCI runtime-spec `linux.seccomp` shape.
 *
 * The output is small and deterministic: one sorted allow rule with every unconditionally allowed name (common,
 * architecture family, capability-unlocked), then the few rules that look at arguments or return another errno.
 */
import type { LinuxSeccomp } from "./types.js";
import {
  ALLOWED_SYSCALLS,
  ARCHITECTURES,
  CAPABILITY_SYSCALLS,
  CLONE_FLAGS_ARG1_FAMILIES,
  CLONE_NAMESPACE_FLAGS,
  ENOSYS,
  EPERM,
  FAMILY_CAPABILITY_SYSCALLS,
  FAMILY_SYSCALLS,
  PERSONALITY_FORBIDDEN_BITS,
  PERSONALITY_QUERY,
} from "./seccomp-profile.js";

export interface DefaultSeccompOptions {
  /** The container's capabilities ("CAP_SYS_ADMIN"; "sys_admin" is accepted too). */
  capabilities: string[];
  /** Go/OCI architecture of the host: amd64, arm64, 386, arm, ppc64le, ppc64, s390x, riscv64. */
  arch: string;
}

type Rule = NonNullable<LinuxSeccomp["syscalls"]>[number];

export function defaultSeccomp(opts: DefaultSeccompOptions): LinuxSeccomp {
  const caps = new Set(opts.capabilities.map(normalizeCapability));
  const arch = ARCHITECTURES[opts.arch];
  const family = arch?.family;

  const allowed = new Set<string>(ALLOWED_SYSCALLS);
  const add = (names: readonly string[] | undefined): void => names?.forEach((n) => allowed.add(n));
  if (family) add(FAMILY_SYSCALLS[family]);
  for (const cap of caps) {
    add(CAPABILITY_SYSCALLS[cap]);
    if (family) add(FAMILY_CAPABILITY_SYSCALLS[family]?.[cap]);
  }

  const rules: Rule[] = [{ names: [...allowed].sort(), action: "SCMP_ACT_ALLOW" }];
  if (!allowed.has("clone")) {
    // Threads and processes, but no new namespaces: the flags word must have none of the namespace bits.
    const index = family && CLONE_FLAGS_ARG1_FAMILIES.includes(family) ? 1 : 0;
    rules.push({
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    });
  }
  if (!allowed.has("clone3")) {
    // clone3 passes its flags in a struct seccomp cannot read. ENOSYS (not EPERM) makes glibc and others fall
    // back to clone, whose flags the rule above can check.
    rules.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS });
  }
  // Two rules for one call are alternatives (OR); the conditions inside one rule would all have to hold (AND).
  // Both compare the low 32 bits only, as the kernel reads an unsigned int: personality(-1) from a libc that
  // passes an unsigned long sign-extended is the same query as personality(0xffffffff).
  rules.push(
    {
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: PERSONALITY_FORBIDDEN_BITS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    },
    {
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: PERSONALITY_QUERY, valueTwo: PERSONALITY_QUERY, op: "SCMP_CMP_MASKED_EQ" }],
    },
  );

  const seccomp: LinuxSeccomp = { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: EPERM };
  // An architecture berth has no table for gets the native ABI only (the runtime's default when the list is empty).
  if (arch) seccomp.architectures = [...arch.scmp];
  seccomp.syscalls = rules;
  return seccomp;
}

function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}
