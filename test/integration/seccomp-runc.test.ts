/**
 * The default seccomp profile under the real runc: it loads, it lets a shell work, and it refuses what it should
 * where nothing else would (each refusal is checked against the same container without the filter).
 *
 * The bundle is written by hand (busybox-static in rootfs/bin, a minimal config.json), not by berth's spec
 * generator, so this test depends only on the profile.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultSeccomp } from "../../src/core/spec/seccomp.js";
import type { LinuxSeccomp } from "../../src/core/spec/types.js";

const BUSYBOX = "/bin/busybox";
const APPLETS = ["sh", "echo", "cat", "grep", "true", "unshare", "linux32", "uname"];
const DEFAULT_CAPS = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
  "CAP_AUDIT_WRITE",
];
const ADMIN_CAPS = [...DEFAULT_CAPS, "CAP_SYS_ADMIN"];

/** Node's process.arch -> Go's name (the profile's key). */
const ARCH: Record<string, string> = {
  x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64",
};
const arch = ARCH[process.arch] ?? process.arch;

function which(bin: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" }).status === 0;
}

/** `make test` installs everything this needs; a missing piece is a failure, never a silent skip. */
function missing(): string | false {
  if (process.getuid?.() !== 0) return "needs root";
  if (!which("runc")) return "runc is not installed (make deps)";
  if (!existsSync(BUSYBOX)) return "busybox-static is not installed (make test-deps)";
  if (!/^Seccomp:/m.test(readFileSync("/proc/self/status", "utf8"))) return "kernel without seccomp";
  return false;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("seccomp: the default profile under runc", () => {
  it("has what it needs", () => assert.equal(missing(), false));

  let dir = "";
  let bundle = "";
  let runcRoot = "";
  let seq = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "berth-seccomp-"));
    bundle = join(dir, "bundle");
    runcRoot = join(dir, "runc");
    const bin = join(bundle, "rootfs", "bin");
    mkdirSync(bin, { recursive: true });
    for (const d of ["proc", "dev", "tmp"]) mkdirSync(join(bundle, "rootfs", d));
    copyFileSync(BUSYBOX, join(bin, "busybox"));
    chmodSync(join(bin, "busybox"), 0o755);
    for (const a of APPLETS) symlinkSync("busybox", join(bin, a));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `args` in a fresh container with these capabilities and this filter (undefined: none). */
  function run(args: string[], caps: string[], seccomp: LinuxSeccomp | undefined): Run {
    const id = `berth-seccomp-${process.pid}-${++seq}-${randomBytes(3).toString("hex")}`;
    const config = {
      ociVersion: "1.0.2",
      process: {
        terminal: false,
        user: { uid: 0, gid: 0 },
        args,
        env: ["PATH=/bin", "HOME=/"],
        cwd: "/",
        capabilities: { bounding: caps, effective: caps, permitted: caps },
        // Docker's default: the filter is then loaded before capabilities are dropped, so runc's own last steps
        // (setgroups, capset, ...) run under it too.
        noNewPrivileges: false,
      },
      root: { path: "rootfs", readonly: false },
      hostname: "seccomp",
      mounts: [
        { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
        { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755"] },
        { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] },
      ],
      linux: {
        namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }],
        // Relative: under the cgroup this test runs in; runc delete removes it.
        cgroupsPath: id,
        ...(seccomp ? { seccomp } : {}),
      },
    };
    writeFileSync(join(bundle, "config.json"), JSON.stringify(config, null, 2));
    try {
      const r = spawnSync("runc", ["--root", runcRoot, "run", "--bundle", bundle, id], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 60_000,
      });
      if (r.error) throw r.error;
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    } finally {
      spawnSync("runc", ["--root", runcRoot, "delete", "-f", id], { stdio: "ignore" });
    }
  }

  const confined = defaultSeccomp({ capabilities: DEFAULT_CAPS, arch });

  it("a normal command works and runs in seccomp filter mode", () => {
    const r = run(["sh", "-c", "echo ok; grep '^Seccomp:' /proc/self/status"], DEFAULT_CAPS, confined);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok\nSeccomp:\s+2\n/);
  });

  it("new namespaces are refused: unshare -n", () => {
    const r = run(["unshare", "-n", "true"], DEFAULT_CAPS, confined);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not permitted/);
  });

  it("a user namespace needs no capability, yet the filter refuses it", () => {
    const control = run(["unshare", "-U", "true"], DEFAULT_CAPS, undefined);
    assert.equal(control.code, 0, `without the filter: ${control.stderr}`);
    const r = run(["unshare", "-U", "true"], DEFAULT_CAPS, confined);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not permitted/);
  });

  it("CAP_SYS_ADMIN alone does not get past a profile built without it", () => {
    const r = run(["unshare", "-m", "true"], ADMIN_CAPS, confined);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not permitted/);
  });

  it("with CAP_SYS_ADMIN in the capabilities and the profile, unshare -m works", () => {
    const r = run(["unshare", "-m", "true"], ADMIN_CAPS, defaultSeccomp({ capabilities: ADMIN_CAPS, arch }));
    assert.equal(r.code, 0, r.stderr);
  });

  it("an allowed persona works: linux32", { skip: arch !== "amd64" && "x86_64 only" }, () => {
    const r = run(["linux32", "uname", "-m"], DEFAULT_CAPS, confined);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "i686");
  });
});
