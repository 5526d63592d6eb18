import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultSeccomp } from "../../src/core/spec/seccomp.js";
import {
  ALLOWED_SYSCALLS,
  BLOCKED_SYSCALLS,
  CAPABILITY_SYSCALLS,
  FAMILY_CAPABILITY_SYSCALLS,
  FAMILY_SYSCALLS,
} from "../../src/core/spec/seccomp-profile.js";
import type { LinuxSeccomp } from "../../src/core/spec/types.js";

/** Docker's default capability set. */
const DEFAULT_CAPS = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Every capability up to CAP_CHECKPOINT_RESTORE (Linux 5.9). */
const ALL_CAPS = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/**
 * Docker's documentation, "Significant syscalls blocked by the default profile"
 * (docs.docker.com/engine/security/seccomp/). clone and personality are blocked for some arguments only and
 * ptrace only on kernels before 4.8; those three are checked with arguments below.
 */
const DOCKER_BLOCKED = [
  "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module", "finit_module",
  "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load",
  "keyctl", "lookup_dcookie", "mbind", "mount", "move_pages", "nfsservctl", "open_by_handle_at", "perf_event_open",
  "pivot_root", "process_vm_readv", "process_vm_writev", "query_module", "quotactl", "reboot", "request_key",
  "set_mempolicy", "setns", "settimeofday", "stime", "swapon", "swapoff", "sysfs", "_sysctl", "umount", "umount2",
  "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
];
/** The brief's list adds name_to_handle_at; the new mount API is gated like mount. */
const ALSO_BLOCKED = [
  "name_to_handle_at", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
];

const ARCHES = ["amd64", "arm64", "386", "arm", "ppc64le", "s390x", "riscv64"];

// clone(2) flags (include/uapi/linux/sched.h)
const CLONE = {
  NEWNS: 0x00020000, NEWCGROUP: 0x02000000, NEWUTS: 0x04000000, NEWIPC: 0x08000000, NEWUSER: 0x10000000,
  NEWPID: 0x20000000, NEWNET: 0x40000000,
};
/** What glibc's pthread_create passes: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID. */
const THREAD_FLAGS = 0x3d0f00;
/** What fork() passes: CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD. */
const FORK_FLAGS = 0x01200011;

type Verdict = { action: string; errno?: number };

/**
 * Evaluates a profile the way libseccomp does for one call: rules naming the call whose argument conditions all
 * hold decide; several matching rules must agree; no match means the default action.
 */
function evaluate(p: LinuxSeccomp, name: string, args: (number | bigint)[] = []): Verdict {
  const verdicts = new Set<string>();
  for (const r of p.syscalls ?? []) {
    if (!r.names.includes(name)) continue;
    const holds = (r.args ?? []).every((c) => {
      const a = BigInt(args[c.index] ?? 0) & 0xffffffffffffffffn;
      const v = BigInt(c.value);
      const v2 = BigInt(c.valueTwo ?? 0);
      switch (c.op) {
        case "SCMP_CMP_EQ": return a === v;
        case "SCMP_CMP_NE": return a !== v;
        case "SCMP_CMP_LT": return a < v;
        case "SCMP_CMP_LE": return a <= v;
        case "SCMP_CMP_GT": return a > v;
        case "SCMP_CMP_GE": return a >= v;
        case "SCMP_CMP_MASKED_EQ": return (a & v) === v2;
        default: throw new Error(`unknown op ${c.op}`);
      }
    });
    if (holds) verdicts.add(JSON.stringify({ action: r.action, errno: r.errnoRet }));
  }
  assert.ok(verdicts.size <= 1, `${name}: rules disagree: ${[...verdicts].join(" ")}`);
  if (verdicts.size === 1) return JSON.parse([...verdicts][0]!) as Verdict;
  return { action: p.defaultAction, errno: p.defaultErrnoRet };
}

const allowed = (p: LinuxSeccomp, name: string, args: (number | bigint)[] = []) =>
  evaluate(p, name, args).action === "SCMP_ACT_ALLOW";

/** Allowed whatever the arguments: named by a rule without conditions. */
const allowedUnconditionally = (p: LinuxSeccomp, name: string) =>
  (p.syscalls ?? []).some((r) => r.action === "SCMP_ACT_ALLOW" && r.names.includes(name) && !r.args?.length);

const profile = (arch: string, capabilities: string[] = DEFAULT_CAPS) => defaultSeccomp({ capabilities, arch });

describe("seccomp: default profile shape", () => {
  it("denies by default with EPERM", () => {
    const p = profile("amd64");
    assert.equal(p.defaultAction, "SCMP_ACT_ERRNO");
    assert.equal(p.defaultErrnoRet, 1);
  });

  it("maps Go architectures to libseccomp's native and compat ABIs", () => {
    const expected: Record<string, string[]> = {
      amd64: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      arm64: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
      "386": ["SCMP_ARCH_X86"],
      arm: ["SCMP_ARCH_ARM"],
      ppc64le: ["SCMP_ARCH_PPC64LE"],
      s390x: ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
      riscv64: ["SCMP_ARCH_RISCV64"],
    };
    for (const [arch, list] of Object.entries(expected)) assert.deepEqual(profile(arch).architectures, list, arch);
  });

  it("an architecture without a table gets the native ABI only and the common rules", () => {
    const p = profile("loong64");
    assert.equal(p.architectures, undefined);
    assert.ok(allowedUnconditionally(p, "read"));
    assert.ok(!allowedUnconditionally(p, "arch_prctl"));
    assert.ok(!allowedUnconditionally(p, "mount"));
  });

  it("is one big allow rule, sorted, then the argument and errno rules", () => {
    const p = profile("amd64");
    const [first, ...rest] = p.syscalls!;
    assert.equal(first!.action, "SCMP_ACT_ALLOW");
    assert.equal(first!.args, undefined);
    assert.deepEqual(first!.names, [...first!.names].sort());
    assert.deepEqual(rest.map((r) => r.names.join(",")), ["clone", "clone3", "personality", "personality"]);
    assert.ok(rest.every((r) => r.args?.length || r.action !== "SCMP_ACT_ALLOW"), "later rules are conditional");
  });

  it("names are unique in each rule, and an unconditionally allowed name appears in no other rule", () => {
    for (const arch of ARCHES) {
      for (const caps of [DEFAULT_CAPS, ALL_CAPS, []]) {
        const p = profile(arch, caps);
        const unconditional = new Set<string>();
        for (const r of p.syscalls!) {
          assert.equal(new Set(r.names).size, r.names.length, `${arch}: duplicate names in a rule`);
          if (r.action === "SCMP_ACT_ALLOW" && !r.args?.length) r.names.forEach((n) => unconditional.add(n));
        }
        for (const r of p.syscalls!) {
          if (r.action === "SCMP_ACT_ALLOW" && !r.args?.length) continue;
          for (const n of r.names) assert.ok(!unconditional.has(n), `${arch}: ${n} is in two rules`);
        }
      }
    }
  });

  it("is deterministic and independent of the order and spelling of capabilities", () => {
    const a = JSON.stringify(profile("amd64", [...DEFAULT_CAPS, "CAP_SYS_ADMIN"]));
    const b = JSON.stringify(profile("amd64", [...DEFAULT_CAPS, "CAP_SYS_ADMIN"]));
    const c = JSON.stringify(profile("amd64", ["sys_admin", ...[...DEFAULT_CAPS].reverse(), "CAP_SYS_ADMIN"]));
    assert.equal(a, b);
    assert.equal(a, c);
    const d = profile("amd64");
    d.syscalls![0]!.names.push("mount");
    assert.ok(!allowedUnconditionally(profile("amd64"), "mount"), "each call returns fresh arrays");
  });

  it("names only syscalls of Linux <= 6.1 (known to Debian 12's libseccomp 2.5.4)", () => {
    const newer = ["cachestat", "fchmodat2", "map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue",
      "statmount", "listmount", "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "mseal",
      "setxattrat", "getxattrat", "listxattrat", "removexattrat", "uretprobe", "riscv_hwprobe", "open_tree_attr"];
    const names = [
      ...ALLOWED_SYSCALLS, ...BLOCKED_SYSCALLS, ...Object.values(FAMILY_SYSCALLS).flat(),
      ...Object.values(CAPABILITY_SYSCALLS).flat(),
      ...Object.values(FAMILY_CAPABILITY_SYSCALLS).flatMap((m) => Object.values(m).flat()),
    ];
    for (const n of names) {
      assert.match(n, /^[a-z_][a-z0-9_]*$/);
      assert.ok(!newer.includes(n), n);
    }
  });

  it("the profile's lists do not contradict each other", () => {
    const gated = new Set([
      ...Object.values(CAPABILITY_SYSCALLS).flat(),
      ...Object.values(FAMILY_CAPABILITY_SYSCALLS).flatMap((m) => Object.values(m).flat()),
    ]);
    assert.equal(new Set(ALLOWED_SYSCALLS).size, ALLOWED_SYSCALLS.length, "no duplicates in ALLOWED_SYSCALLS");
    for (const n of ALLOWED_SYSCALLS) {
      assert.ok(!gated.has(n), `${n} is both allowed and capability-gated`);
      assert.ok(!BLOCKED_SYSCALLS.includes(n), `${n} is both allowed and blocked`);
    }
    for (const n of BLOCKED_SYSCALLS) assert.ok(!gated.has(n), `${n} is both blocked and capability-gated`);
  });
});

describe("seccomp: what a default container may do", () => {
  const COMMON = [
    "read", "write", "openat", "close", "execve", "exit_group", "futex", "epoll_wait", "epoll_pwait", "mmap",
    "mprotect", "brk", "rt_sigaction", "rt_sigreturn", "socket", "connect", "accept4", "sendmsg", "getrandom",
    "statx", "newfstatat", "wait4", "kill", "pipe2", "dup3", "getdents64", "prctl", "seccomp", "capset",
    "setresuid", "setgroups", "chroot", "ptrace", "adjtimex", "memfd_create", "sched_setaffinity", "prlimit64",
  ];

  for (const arch of ["amd64", "arm64"]) {
    it(`${arch}: common calls are allowed`, () => {
      const p = profile(arch);
      for (const n of COMMON) assert.ok(allowedUnconditionally(p, n), `${arch}: ${n}`);
      assert.ok(allowed(p, "clone", [THREAD_FLAGS]), "threads");
      assert.ok(allowed(p, "clone", [FORK_FLAGS]), "fork");
    });
  }

  it("x86 gets arch_prctl and its TLS calls, arm gets set_tls and cacheflush; not the other way round", () => {
    const x86 = profile("amd64");
    const arm = profile("arm64");
    for (const n of ["arch_prctl", "set_thread_area", "modify_ldt"]) {
      assert.ok(allowedUnconditionally(x86, n), n);
      assert.ok(!allowedUnconditionally(arm, n), n);
    }
    for (const n of ["set_tls", "cacheflush", "breakpoint"]) {
      assert.ok(allowedUnconditionally(arm, n), n);
      assert.ok(!allowedUnconditionally(x86, n), n);
    }
    assert.ok(allowedUnconditionally(profile("riscv64"), "riscv_flush_icache"));
    assert.ok(allowedUnconditionally(profile("s390x"), "s390_guarded_storage"));
  });

  it("io_uring is refused (decision: like Docker >= 25 and containerd)", () => {
    for (const n of ["io_uring_setup", "io_uring_enter", "io_uring_register"]) {
      assert.deepEqual(evaluate(profile("amd64", ALL_CAPS), n), { action: "SCMP_ACT_ERRNO", errno: 1 });
    }
  });
});

describe("seccomp: what a default container may not do", () => {
  for (const arch of ARCHES) {
    it(`${arch}: every syscall Docker's profile blocks is blocked with the default capabilities`, () => {
      const p = profile(arch);
      for (const n of [...DOCKER_BLOCKED, ...ALSO_BLOCKED]) {
        assert.ok(!allowedUnconditionally(p, n), `${arch}: ${n} must not be allowed`);
        assert.deepEqual(evaluate(p, n), { action: "SCMP_ACT_ERRNO", errno: 1 }, `${arch}: ${n}`);
      }
    });
  }

  it("BLOCKED_SYSCALLS stay blocked even with every capability", () => {
    for (const arch of ARCHES) {
      const p = profile(arch, ALL_CAPS);
      for (const n of BLOCKED_SYSCALLS) assert.ok(!allowed(p, n), `${arch}: ${n}`);
      for (const n of ["kexec_load", "keyctl", "add_key", "request_key", "swapon", "vm86"]) assert.ok(!allowed(p, n));
    }
  });

  it("clone: threads and processes yes, new namespaces no (flags in argument 0; argument 1 on s390x)", () => {
    for (const arch of ARCHES) {
      const p = profile(arch);
      const rule = p.syscalls!.find((r) => r.names.includes("clone"))!;
      const index = arch === "s390x" ? 1 : 0;
      assert.deepEqual(rule, {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      });
      const call = (flags: number) => (index === 1 ? [0, flags] : [flags]);
      assert.ok(allowed(p, "clone", call(THREAD_FLAGS)), arch);
      assert.ok(allowed(p, "clone", call(FORK_FLAGS)), arch);
      for (const [flag, bit] of Object.entries(CLONE)) {
        assert.ok(!allowed(p, "clone", call(FORK_FLAGS | bit)), `${arch}: clone with CLONE_${flag}`);
      }
    }
  });

  it("clone3 answers ENOSYS so libcs fall back to clone", () => {
    assert.deepEqual(evaluate(profile("amd64"), "clone3"), { action: "SCMP_ACT_ERRNO", errno: 38 });
  });

  it("personality: only Linux, Linux32 and UNAME26 personas, and the query", () => {
    const p = profile("amd64");
    for (const v of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff, 0xffffffffffffffffn]) {
      assert.ok(allowed(p, "personality", [v]), `personality(0x${v.toString(16)})`);
    }
    // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, PER_BSD, PER_SVR4, PER_LINUX32|ADDR_NO_RANDOMIZE
    for (const v of [0x0040000, 0x0400000, 0x0800000, 0x6, 0x04100001, 0x0040008, 0xfffffffe]) {
      assert.ok(!allowed(p, "personality", [v]), `personality(0x${v.toString(16)})`);
    }
  });
});

describe("seccomp: capabilities unlock their calls", () => {
  it("CAP_SYS_ADMIN: mount, namespaces, pivot_root, the new mount API, unrestricted clone and clone3", () => {
    const p = profile("amd64", [...DEFAULT_CAPS, "CAP_SYS_ADMIN"]);
    for (const n of [
      "mount", "umount2", "unshare", "setns", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree",
      "move_mount", "mount_setattr", "quotactl", "sethostname", "bpf", "perf_event_open", "clone", "clone3",
    ]) {
      assert.ok(allowedUnconditionally(p, n), n);
    }
    assert.ok(allowed(p, "clone", [FORK_FLAGS | CLONE.NEWNS | CLONE.NEWNET]));
    assert.ok(!p.syscalls!.some((r) => r.args?.length && r.names.includes("clone")), "no clone argument rule");
    assert.ok(!p.syscalls!.some((r) => r.action === "SCMP_ACT_ERRNO"), "no ENOSYS rule for clone3");
    assert.ok(!allowed(p, "swapon") && !allowed(p, "keyctl"), "still not: swap, keyrings");
  });

  const table: [string, string[], string?][] = [
    ["CAP_SYS_BOOT", ["reboot"]],
    ["CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]],
    ["CAP_SYS_PACCT", ["acct"]],
    ["CAP_SYS_PTRACE", ["kcmp", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "userfaultfd"]],
    ["CAP_SYS_RAWIO", ["iopl", "ioperm"], "amd64"],
    ["CAP_SYS_TIME", ["settimeofday", "stime", "clock_settime", "clock_adjtime"]],
    ["CAP_SYS_TTY_CONFIG", ["vhangup"]],
    ["CAP_SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "move_pages"]],
    ["CAP_SYSLOG", ["syslog"]],
    ["CAP_BPF", ["bpf"]],
    ["CAP_PERFMON", ["perf_event_open"]],
    ["CAP_DAC_READ_SEARCH", ["open_by_handle_at", "name_to_handle_at"]],
  ];
  for (const [cap, names, arch = "amd64"] of table) {
    it(`${cap}: ${names.join(", ")}`, () => {
      const without = profile(arch);
      const withCap = profile(arch, [...DEFAULT_CAPS, cap]);
      for (const n of names) {
        assert.ok(!allowed(without, n), `${n} without ${cap}`);
        assert.ok(allowedUnconditionally(withCap, n), `${n} with ${cap}`);
      }
      assert.ok(!allowed(withCap, "mount") || cap === "CAP_SYS_ADMIN", `${cap} does not unlock mount`);
    });
  }

  it("CAP_SYS_RAWIO unlocks port I/O on x86 only (arm64 has no such calls)", () => {
    const p = profile("arm64", [...DEFAULT_CAPS, "CAP_SYS_RAWIO"]);
    assert.ok(!allowedUnconditionally(p, "iopl"));
    assert.ok(!allowedUnconditionally(p, "ioperm"));
  });

  it("CAP_SYS_CHROOT gates chroot", () => {
    assert.ok(allowedUnconditionally(profile("amd64"), "chroot"), "in Docker's default set");
    assert.ok(!allowed(profile("amd64", DEFAULT_CAPS.filter((c) => c !== "CAP_SYS_CHROOT")), "chroot"));
  });
});

describe("seccomp: size", () => {
  it("allows a few hundred calls by default", () => {
    const n = profile("amd64").syscalls![0]!.names.length;
    assert.ok(n > 300 && n < 400, `${n} names`);
  });
});
