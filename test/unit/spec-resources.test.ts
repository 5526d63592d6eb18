import assert from "node:assert/strict";
import { test } from "node:test";
import { generateSpec } from "../../src/core/spec/generate.js";
import { buildResources, buildRlimits, validateCpuList, validateSysctls } from "../../src/core/spec/resources.js";
import { berthError } from "../helpers/errors.js";
import { testInput } from "../helpers/runtime-schema.js";

const MiB = 1024 * 1024;
const INV = (re?: RegExp) => berthError("INVALID_ARGUMENT", re);

test("no resource flags: no resources beyond the device rules, no rlimits, no sysctls", () => {
  const s = generateSpec(testInput());
  assert.deepEqual(Object.keys(s.linux.resources ?? {}), ["devices"]);
  assert.equal(s.process.rlimits, undefined);
  assert.equal(s.linux.sysctl, undefined);
  assert.equal(s.process.oomScoreAdj, undefined);
  assert.equal(s.linux.cgroupsPath, `berth/${"0123456789abcdef".repeat(4)}`);
});

test("memory: swap defaults to twice the memory, -1 is unlimited, bad combinations fail", () => {
  assert.deepEqual(buildResources({ image: "x", memory: 64 * MiB }, {}).memory, { limit: 64 * MiB, swap: 128 * MiB });
  assert.deepEqual(buildResources({ image: "x", memory: 64 * MiB, memorySwap: -1 }, {}).memory, { limit: 64 * MiB, swap: -1 });
  assert.deepEqual(buildResources({ image: "x", memory: 64 * MiB, memorySwap: 100 * MiB }, {}).memory, { limit: 64 * MiB, swap: 100 * MiB });
  assert.deepEqual(buildResources({ image: "x", memory: 64 * MiB, memorySwap: 64 * MiB }, {}).memory, { limit: 64 * MiB, swap: 64 * MiB });
  assert.deepEqual(buildResources({ image: "x", memory: 64 * MiB, memoryReservation: 32 * MiB, oomKillDisable: true }, {}).memory, {
    limit: 64 * MiB,
    swap: 128 * MiB,
    reservation: 32 * MiB,
    disableOOMKiller: true,
  });
  assert.throws(() => buildResources({ image: "x", memory: 64 * MiB, memorySwap: 32 * MiB }, {}), INV(/--memory-swap/));
  assert.throws(() => buildResources({ image: "x", memorySwap: 64 * MiB }, {}), INV(/--memory-swap .*needs --memory/));
  assert.throws(() => buildResources({ image: "x", memory: 1024 }, {}), INV(/--memory .*6MB/));
  assert.throws(() => buildResources({ image: "x", memory: -5 }, {}), INV(/--memory/));
  assert.throws(() => buildResources({ image: "x", memory: 64 * MiB, memoryReservation: 128 * MiB }, {}), INV(/--memory-reservation/));
});

test("--cpus -> quota over the period (host's or 100000); bad values fail", () => {
  assert.deepEqual(buildResources({ image: "x", cpus: 1.5 }, {}).cpu, { period: 100000, quota: 150000 });
  assert.deepEqual(buildResources({ image: "x", cpus: 0.5 }, { cpuPeriod: 50000 }).cpu, { period: 50000, quota: 25000 });
  assert.deepEqual(buildResources({ image: "x", cpus: 0.333 }, {}).cpu, { period: 100000, quota: 33300 });
  for (const bad of [0, -1, Number.NaN, 0.001]) assert.throws(() => buildResources({ image: "x", cpus: bad }, {}), INV(/--cpus/), String(bad));
});

test("cpu shares, cpusets, pids and blkio weight", () => {
  const r = buildResources({ image: "x", cpuShares: 512, cpusetCpus: "0-2,4", cpusetMems: "0", pidsLimit: 100, blkioWeight: 300 }, {});
  assert.deepEqual(r.cpu, { shares: 512, cpus: "0-2,4", mems: "0" });
  assert.deepEqual(r.pids, { limit: 100 });
  assert.deepEqual(r.blockIO, { weight: 300 });
  assert.equal(buildResources({ image: "x", pidsLimit: -1 }, {}).pids, undefined);
  assert.equal(buildResources({ image: "x", pidsLimit: 0 }, {}).pids, undefined);
  assert.throws(() => buildResources({ image: "x", pidsLimit: -2 }, {}), INV(/--pids-limit/));
  assert.throws(() => buildResources({ image: "x", cpuShares: 1 }, {}), INV(/--cpu-shares/));
  assert.throws(() => buildResources({ image: "x", cpuShares: 262145 }, {}), INV(/--cpu-shares/));
  assert.throws(() => buildResources({ image: "x", blkioWeight: 5 }, {}), INV(/--blkio-weight/));
  assert.throws(() => buildResources({ image: "x", blkioWeight: 1001 }, {}), INV(/--blkio-weight/));
  for (const ok of ["0", "0-3", "1,3,5-7"]) assert.equal(validateCpuList("--cpuset-cpus", ok), ok);
  for (const bad of ["", "a", "3-1", "0,", "-1", "0--2", "0 1"]) assert.throws(() => validateCpuList("--cpuset-cpus", bad), INV(/--cpuset-cpus/), bad);
  assert.throws(() => generateSpec(testInput({ options: { cpusetMems: "x" } })), INV(/--cpuset-mems "x"/));
});

test("oom score adj goes into process.oomScoreAdj, within -1000..1000", () => {
  assert.equal(generateSpec(testInput({ options: { oomScoreAdj: -500 } })).process.oomScoreAdj, -500);
  assert.throws(() => generateSpec(testInput({ options: { oomScoreAdj: 1001 } })), INV(/--oom-score-adj/));
});

test("ulimits: RLIMIT_ names, later wins, never any by default", () => {
  assert.deepEqual(buildRlimits(undefined, {}), []);
  assert.deepEqual(
    buildRlimits(
      [
        { name: "nofile", soft: 1024, hard: 2048 },
        { name: "core", soft: 0, hard: 0 },
        { name: "nofile", soft: 4096, hard: 4096 },
      ],
      { nofile: 524288 },
    ),
    [
      { type: "RLIMIT_CORE", soft: 0, hard: 0 },
      { type: "RLIMIT_NOFILE", soft: 4096, hard: 4096 },
    ],
  );
  const s = generateSpec(testInput({ options: { ulimits: [{ name: "nproc", soft: 100, hard: 200 }] } }));
  assert.deepEqual(s.process.rlimits, [{ type: "RLIMIT_NPROC", soft: 100, hard: 200 }]);
});

test("ulimit errors: above the host's hard limit, soft above hard, unknown names", () => {
  assert.throws(
    () => buildRlimits([{ name: "nofile", soft: 1024, hard: 1048576 }], { nofile: 524288 }),
    INV(/^--ulimit nofile=1024:1048576: hard limit 1048576 is above the host's hard limit 524288 \(berth lacks CAP_SYS_RESOURCE\)$/),
  );
  assert.throws(
    () => generateSpec(testInput({ options: { ulimits: [{ name: "nofile", soft: 1, hard: 600000 }] } })),
    INV(/host's hard limit 524288/),
  );
  // Unknown host limit: no check.
  assert.equal(buildRlimits([{ name: "stack", soft: 1, hard: 2 ** 40 }], {}).length, 1);
  assert.throws(() => buildRlimits([{ name: "nofile", soft: 2048, hard: 1024 }], {}), INV(/soft limit 2048 is above hard limit 1024/));
  assert.throws(() => buildRlimits([{ name: "files", soft: 1, hard: 1 }], {}), INV(/unknown limit "files"/));
  assert.throws(() => buildRlimits([{ name: "nofile", soft: -1, hard: 1 }], {}), INV(/non-negative/));
});

test("sysctls: only namespaced ones, and only when the container owns the namespace", () => {
  const priv = { privateNet: true, privateIpc: true, privateUts: true };
  const ok = { "net.ipv4.ip_forward": "1", "net/ipv6/conf/all/disable_ipv6": "0", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20", "kernel.domainname": "lab" };
  assert.deepEqual(validateSysctls(ok, priv), {
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.disable_ipv6": "0",
    "kernel.shmmax": "1000",
    "fs.mqueue.msg_max": "20",
    "kernel.domainname": "lab",
  });
  assert.throws(() => validateSysctls({ "vm.swappiness": "1" }, priv), INV(/"vm\.swappiness": not a namespaced sysctl/));
  assert.throws(() => validateSysctls({ "kernel.pid_max": "1" }, priv), INV(/kernel\.pid_max/));
  assert.throws(() => validateSysctls({ "kernel.hostname": "x" }, priv), INV(/--hostname/));
  assert.throws(() => validateSysctls({ "net.ipv4.ip_forward": "1" }, { ...priv, privateNet: false }), INV(/--network host/));
  assert.throws(() => validateSysctls({ "kernel.sem": "1 2 3 4" }, { ...priv, privateIpc: false }), INV(/--ipc host/));
  assert.throws(() => validateSysctls({ "fs.mqueue.queues_max": "1" }, { ...priv, privateIpc: false }), INV(/--ipc host/));
  assert.throws(() => validateSysctls({ "kernel.domainname": "x" }, { ...priv, privateUts: false }), INV(/--uts host/));
  // Through the generator: the namespaces come from the options.
  assert.deepEqual(generateSpec(testInput({ options: { sysctls: { "net.ipv4.ip_forward": "1" } } })).linux.sysctl, { "net.ipv4.ip_forward": "1" });
  assert.throws(() => generateSpec(testInput({ options: { network: "host", sysctls: { "net.ipv4.ip_forward": "1" } } })), INV(/net\.ipv4\.ip_forward/));
});
