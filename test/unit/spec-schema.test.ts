/** Generated specs validate against the OCI runtime-spec JSON schema (Debian's copy, read at test time). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateSpec } from "../../src/core/spec/generate.js";
import type { SpecInput } from "../../src/core/spec/types.js";
import { testInput, validateRuntimeSpec } from "../helpers/runtime-schema.js";

const MiB = 1024 * 1024;

const CASES: Record<string, SpecInput> = {
  default: testInput(),
  "cgroup v1, no seccomp, no kcore": testInput({ host: { cgroupVersion: 1, seccomp: false, procKcore: false } }),
  privileged: testInput({ options: { privileged: true } }),
  "all resources": testInput({
    options: {
      memory: 512 * MiB,
      memorySwap: 1024 * MiB,
      memoryReservation: 256 * MiB,
      oomKillDisable: true,
      cpus: 1.5,
      cpuShares: 512,
      cpusetCpus: "0-1",
      cpusetMems: "0",
      pidsLimit: 100,
      blkioWeight: 500,
      oomScoreAdj: 100,
      ulimits: [
        { name: "nofile", soft: 1024, hard: 4096 },
        { name: "core", soft: 0, hard: 0 },
      ],
      sysctls: { "net.ipv4.ip_forward": "1", "kernel.shmmax": "68719476736" },
    },
  }),
  "userns keep-id": testInput({ options: { userns: "keep-id" }, host: { uid: 1000, gid: 1000, subUids: { start: 100000, size: 65536 }, subGids: { start: 100000, size: 65536 } } }),
  "userns maps": testInput({ options: { uidMaps: [{ containerID: 0, hostID: 200000, size: 65536 }] } }),
  init: testInput({ options: { init: true, tty: true, interactive: true } }),
  "tmpfs, binds, read-only": testInput({
    options: {
      readOnly: true,
      tmpfs: { "/run": "size=16m", "/tmp": "exec" },
      mounts: [{ type: "bind", source: "/srv/cfg", destination: "/etc/frr", readOnly: true }],
    },
    extraMounts: [{ destination: "/etc/hosts", type: "bind", source: "/run/berth/h", options: ["rbind", "ro"] }],
  }),
  "host namespaces": testInput({ options: { pid: "host", ipc: "host", uts: "host", network: "host" } }),
  "joined netns, caps, user": testInput({
    netnsPath: "/run/berth/netns/x",
    options: { capDrop: ["ALL"], capAdd: ["NET_ADMIN", "NET_RAW"], securityOpt: ["no-new-privileges"] },
    user: { uid: 100, gid: 101, additionalGids: [85], home: "/var/run/frr" },
  }),
  "seccomp file": testInput({
    options: { securityOpt: ["seccomp=/p.json"] },
    seccompProfile: {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      flags: ["SECCOMP_FILTER_FLAG_LOG"],
      archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86"] }],
      syscalls: [{ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ" }] }],
    },
  }),
  "apparmor and selinux": testInput({
    host: { apparmor: { enabled: true, defaultProfile: "berth-default" }, selinux: true },
    options: { securityOpt: ["label=level:s0:c1,c2"] },
  }),
  "arm64 seccomp": testInput({ host: { arch: "arm64" }, options: { capAdd: ["SYS_ADMIN", "SYS_PTRACE"] } }),
};

for (const [name, input] of Object.entries(CASES)) {
  test(`schema-valid: ${name}`, () => {
    assert.deepEqual(validateRuntimeSpec(generateSpec(input)), []);
  });
}

test("the validator does reject broken specs", () => {
  const good = generateSpec(testInput({ options: { pidsLimit: 5 } }));
  const breakIt = (f: (s: any) => void) => {
    const s = structuredClone(good);
    f(s);
    return validateRuntimeSpec(s);
  };
  assert.ok(breakIt((s) => (s.ociVersion = 1)).length > 0);
  assert.ok(breakIt((s) => (s.linux.namespaces[0].type = "time-travel")).length > 0);
  assert.ok(breakIt((s) => (s.process.user.uid = -1)).length > 0);
  assert.ok(breakIt((s) => delete s.linux.resources.pids.limit).length > 0);
  assert.ok(breakIt((s) => (s.mounts[0].options = "nosuid")).length > 0);
  assert.ok(breakIt((s) => (s.linux.seccomp.defaultAction = "SCMP_ACT_MAYBE")).length > 0);
  assert.ok(breakIt((s) => (s.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 1 }])).length > 0);
  const errs = breakIt((s) => (s.process.env = "PATH=/bin"));
  assert.ok(errs.some((e) => e.startsWith("/process/env")), errs.join("\n"));
});
