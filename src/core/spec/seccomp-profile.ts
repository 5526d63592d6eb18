/**
 * berth's default seccomp profile, as data. `seccomp.ts` turns it into the OCI `linux.seccomp` object for one
 * container (its capabilities and the host's architecture).
 *
 * An allow-list: everything not named here fails with EPERM. Names were chosen by going through the Linux 6.1
 * syscall tables (x86_64, i386, x32, the asm-generic table used by arm64/riscv64, arm, ppc64, s390) one call at a
 * time. Every name is one libseccomp 2.5.4 (Debian 12) resolves; nothing newer than Linux 6.1 (syscall 450 on
 * x86_64) appears, because runc's filter patcher answers ENOSYS for numbers above the highest one the filter
 * knows, which is what libcs expect of a syscall the kernel lacks (glibc falls back, e.g. fchmodat2 -> fchmodat).
 *
 * A name that does not exist on an architecture in the filter is harmless: libseccomp skips it there. That is why
 * the common list also holds 32-bit names (mmap2, fcntl64, *_time64, ...) for compat ABIs (i386 on amd64, arm on
 * arm64). Calls private to one family (arch_prctl, set_tls, ...) live in FAMILY_SYSCALLS instead, so a profile
 * names only what its architectures have.
 */

/** errno values used by the profile (asm-generic/errno-base.h; the same on every architecture berth supports). */
export const EPERM = 1;
export const ENOSYS = 38;

/**
 * clone(2) flags that create namespaces: CLONE_NEWNS 0x00020000 | CLONE_NEWCGROUP 0x02000000 | CLONE_NEWUTS
 * 0x04000000 | CLONE_NEWIPC 0x08000000 | CLONE_NEWUSER 0x10000000 | CLONE_NEWPID 0x20000000 | CLONE_NEWNET
 * 0x40000000 (include/uapi/linux/sched.h). CLONE_NEWTIME (0x80) is not listed: clone(2) cannot take it (the bit is
 * part of CSIGNAL there); only clone3 and unshare can, and both are gated on CAP_SYS_ADMIN here.
 */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/**
 * personality(2) personas a container may switch to: PER_LINUX (0), PER_LINUX32 (0x8), UNAME26 (0x20000) and
 * UNAME26|PER_LINUX32 (0x20008), i.e. any value whose bits outside 0x20008 are clear; plus 0xffffffff, which only
 * queries the current persona. Everything else (BSD/SVr4 emulation, ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ...)
 * is refused. The kernel reads the argument as an unsigned int, so a 32-bit mask is exact.
 */
export const PERSONALITY_FORBIDDEN_BITS = 0xfffdfff7;
export const PERSONALITY_QUERY = 0xffffffff;

/** Go/OCI architecture name -> the libseccomp architectures of its native and compat ABIs, and its family. */
export const ARCHITECTURES: Readonly<Record<string, { readonly scmp: readonly string[]; readonly family: string }>> = {
  amd64: { scmp: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], family: "x86" },
  "386": { scmp: ["SCMP_ARCH_X86"], family: "x86" },
  arm64: { scmp: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"], family: "arm" },
  arm: { scmp: ["SCMP_ARCH_ARM"], family: "arm" },
  ppc64le: { scmp: ["SCMP_ARCH_PPC64LE"], family: "ppc" },
  ppc64: { scmp: ["SCMP_ARCH_PPC64"], family: "ppc" },
  s390x: { scmp: ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"], family: "s390" },
  riscv64: { scmp: ["SCMP_ARCH_RISCV64"], family: "riscv" },
};

/** Families whose clone(2) takes the flags in the second argument (s390: clone(stack, flags, ...)). */
export const CLONE_FLAGS_ARG1_FAMILIES: readonly string[] = ["s390"];

/**
 * Allowed for every container on every architecture: what a normal workload (libcs, Go, JVMs, shells, servers)
 * uses. Grouped by purpose; the generator sorts.
 */
export const ALLOWED_SYSCALLS: readonly string[] = [
  // files and directories
  "_llseek", "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range", "creat",
  "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fchdir", "fchmod",
  "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
  "flock", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
  "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr", "lchown", "lchown32",
  "lgetxattr", "link", "linkat", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat",
  "lstat64", "mkdir", "mkdirat", "mknod", "mknodat", "newfstatat", "open", "openat", "openat2", "pipe", "pipe2",
  "pread64",
  "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
  "removexattr", "rename", "renameat", "renameat2", "rmdir", "sendfile", "sendfile64", "setxattr", "splice",
  "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
  "tee", "truncate", "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64",
  "utimes", "vmsplice", "write", "writev",
  // file change notification (fanotify_init is privileged; fanotify_mark needs its descriptor)
  "fanotify_mark", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
  // polling and event descriptors
  "_newselect", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
  "eventfd", "eventfd2", "poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64", "select", "signalfd",
  "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64",
  // ioctl: device access is the devices cgroup's and the mount namespace's job
  "ioctl",
  // POSIX AIO (io_uring is not here: see BLOCKED_SYSCALLS)
  "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit",
  // memory
  "brk", "madvise", "membarrier", "memfd_create", "mincore", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
  "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect",
  "remap_file_pages",
  // processes and threads (clone is argument-filtered and clone3 answers ENOSYS unless CAP_SYS_ADMIN)
  "execve", "execveat", "exit", "exit_group", "fork", "get_robust_list", "getpgid", "getpgrp", "getpid", "getppid",
  "getsid", "gettid", "pidfd_open", "pidfd_send_signal", "prctl", "process_mrelease", "restart_syscall", "rseq",
  "set_robust_list", "set_tid_address", "setpgid", "setsid", "vfork", "wait4", "waitid", "waitpid",
  // ptrace: allowed since kernel 4.8 ran seccomp after the tracer's changes (no more bypass); tracing another
  // process still needs the kernel's ptrace access checks, and the container has its own pid namespace
  "ptrace",
  // self-sandboxing
  "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "seccomp",
  // futexes
  "futex", "futex_time64", "futex_waitv",
  // signals
  "kill", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
  "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sigaction", "sigaltstack", "signal",
  "sigpending", "sigprocmask", "sigreturn", "sigsuspend", "tgkill", "tkill",
  // credentials (the kernel checks CAP_SETUID/CAP_SETGID/CAP_SETPCAP)
  "capget", "capset", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
  "getgroups32", "getresgid", "getresgid32", "getresuid", "getresuid32", "getuid", "getuid32", "setfsgid",
  "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setregid",
  "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setuid",
  "setuid32",
  // scheduling, priorities and limits (raising them is checked by the kernel against CAP_SYS_NICE/RESOURCE)
  "getcpu", "getpriority", "getrlimit", "getrusage", "ioprio_get", "ioprio_set", "nice", "prlimit64",
  "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
  "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
  "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "setpriority", "setrlimit", "ugetrlimit",
  // time: reading clocks, sleeping and timers (setting clocks needs CAP_SYS_TIME; adjtimex only changes anything
  // with CAP_SYS_TIME, and its argument is a pointer seccomp cannot inspect, so reads stay allowed)
  "adjtimex", "alarm", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
  "clock_nanosleep", "clock_nanosleep_time64", "getitimer", "gettimeofday", "nanosleep", "pause", "setitimer",
  "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
  "timer_settime64", "times",
  // sockets (the network namespace confines them; socketcall is the i386/s390 multiplexer)
  "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen", "recv", "recvfrom",
  "recvmmsg", "recvmmsg_time64", "recvmsg", "send", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown",
  "socket", "socketcall", "socketpair",
  // System V and POSIX IPC (the ipc namespace confines them; ipc is the i386/s390/ppc multiplexer)
  "ipc", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
  "mq_timedsend_time64", "mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop",
  "semtimedop", "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget",
  // system information
  "getrandom", "sysinfo", "uname",
];

/** Allowed on one architecture family only: calls private to that family's ABI. */
export const FAMILY_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  // TLS and segment setup that x86 libcs and runtimes use (arch_prctl: FS/GS base; *_thread_area: i386 TLS;
  // modify_ldt: Wine and other 16-bit/segmented code)
  x86: ["arch_prctl", "get_thread_area", "modify_ldt", "set_thread_area"],
  // ARM private calls: TLS register, cache maintenance for JITs, debugger breakpoints, and the arm-specific
  // argument orders of fadvise64_64 and sync_file_range (arm64 uses the generic ones)
  arm: ["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "get_tls", "set_tls"],
  // user context switching as glibc does it on powerpc, and powerpc's argument order of sync_file_range
  ppc: ["swapcontext", "sync_file_range2"],
  // runtime instrumentation, guarded storage (used by the JVM) and the store-hypervisor-information instruction
  s390: ["s390_guarded_storage", "s390_runtime_instr", "s390_sthyi"],
  // instruction cache flush after writing code (JITs)
  riscv: ["riscv_flush_icache"],
};

/**
 * Calls a capability unlocks: the capability already lets the kernel do the same thing (or it is what the kernel
 * checks), so refusing the call would only break containers that were deliberately given the capability.
 */
export const CAPABILITY_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
    "mount_setattr", "move_mount", "name_to_handle_at", "open_tree", "perf_event_open", "pivot_root", "quotactl",
    "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
  ],
  CAP_BPF: ["bpf"],
  CAP_DAC_READ_SEARCH: ["name_to_handle_at", "open_by_handle_at"],
  CAP_PERFMON: ["perf_event_open"],
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["delete_module", "finit_module", "init_module"],
  CAP_SYS_NICE: ["get_mempolicy", "mbind", "migrate_pages", "move_pages", "set_mempolicy", "set_mempolicy_home_node"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "userfaultfd"],
  CAP_SYS_TIME: ["clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64", "settimeofday", "stime"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYSLOG: ["syslog"],
};

/** Calls a capability unlocks on one architecture family only. */
export const FAMILY_CAPABILITY_SYSCALLS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  // port I/O from user space
  x86: { CAP_SYS_RAWIO: ["ioperm", "iopl"] },
  // PCI MMIO on s390 (no user-space mapped BARs there)
  s390: { CAP_SYS_RAWIO: ["s390_pci_mmio_read", "s390_pci_mmio_write"] },
};

/**
 * Deliberately refused whatever the capabilities (documentation, and checked by the tests never to be allowed):
 * calls whose effects are not namespaced (kernel keyrings, kexec, swap), io_uring (a large, often vulnerable
 * attack surface whose queued operations this filter never sees; Docker and containerd refuse it too), secret
 * memory, x86 real mode, and calls that are obsolete, unimplemented, or superseded by ones allowed above (the old
 * stat/uname/readdir forms, sgetmask, ...; no libc of this century issues them).
 */
export const BLOCKED_SYSCALLS: readonly string[] = [
  "_sysctl", "add_key", "afs_syscall", "bdflush", "break", "create_module", "epoll_ctl_old", "epoll_wait_old",
  "ftime", "get_kernel_syms", "getpmsg", "gtty", "idle", "io_uring_enter", "io_uring_register", "io_uring_setup",
  "kexec_file_load", "kexec_load", "keyctl", "lock", "memfd_secret", "mpx", "multiplexer", "nfsservctl",
  "oldfstat", "oldlstat", "oldolduname", "oldstat", "olduname", "pciconfig_iobase", "pciconfig_read",
  "pciconfig_write", "prof", "profil", "putpmsg", "query_module", "readdir", "request_key", "rtas", "security",
  "sgetmask", "spu_create", "spu_run", "ssetmask", "stty", "subpage_prot", "swapoff", "swapon", "switch_endian",
  "sys_debug_setcontext", "sysfs", "timerfd", "tuxcall", "ulimit", "uselib", "ustat", "usr26", "usr32", "vm86",
  "vm86old", "vserver",
];
