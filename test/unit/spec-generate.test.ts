import assert from "node:assert/strict";
import { test } from "node:test";
import { capabilitySet, capMask } from "../../src/core/spec/capabilities.js";
import { DEFAULT_PATH_ENV } from "../../src/core/spec/defaults.js";
import { convertSeccompProfile, generateSpec, keepIdMaps, mergeProcessArgs, validateOptions } from "../../src/core/spec/generate.js";
import { defaultSeccomp } from "../../src/core/spec/index.js";
import type { ContainerOptions, ImageRuntimeConfig, SpecMount } from "../../src/core/spec/types.js";
import { berthError } from "../helpers/errors.js";
import { TEST_ID, testHost, testInput } from "../helpers/runtime-schema.js";

const INV = (re?: RegExp) => berthError("INVALID_ARGUMENT", re);
const opts = (o: Partial<ContainerOptions> = {}): ContainerOptions => ({ image: "img", ...o });
const mount = (ms: SpecMount[], dest: string) => ms.find((m) => m.destination === dest);

test("entrypoint/cmd merge follows Docker's table", () => {
  const img: ImageRuntimeConfig = { Entrypoint: ["/ep"], Cmd: ["a", "b"] };
  const cases: [ImageRuntimeConfig, Partial<ContainerOptions>, string[]][] = [
    [img, {}, ["/ep", "a", "b"]],
    [img, { cmd: ["c"] }, ["/ep", "c"]],
    [img, { cmd: [] }, ["/ep", "a", "b"]],
    [img, { entrypoint: ["/x"] }, ["/x"]], // --entrypoint drops the image's Cmd
    [img, { entrypoint: ["/x"], cmd: ["c"] }, ["/x", "c"]],
    [img, { entrypoint: [""], cmd: ["sh"] }, ["sh"]],
    [img, { entrypoint: [], cmd: ["sh", "-c", "x"] }, ["sh", "-c", "x"]],
    [{ Cmd: ["sh"] }, {}, ["sh"]],
    [{ Entrypoint: [""], Cmd: ["sh"] }, {}, ["sh"]],
    [{ Entrypoint: null, Cmd: null }, { cmd: ["ls", "-l"] }, ["ls", "-l"]],
    [{ Entrypoint: ["/ep"], Cmd: null }, {}, ["/ep"]],
  ];
  for (const [image, o, want] of cases) {
    const got = mergeProcessArgs(image, opts(o));
    assert.deepEqual([got.path, ...got.args], want, JSON.stringify([image, o]));
    assert.deepEqual(generateSpec(testInput({ image, options: o })).process.args, want);
  }
  assert.deepEqual(mergeProcessArgs(img, opts()), { path: "/ep", args: ["a", "b"] });
  for (const [image, o] of [
    [{}, {}],
    [{ Cmd: [] }, {}],
    [img, { entrypoint: [""] }],
    [img, { entrypoint: [] }],
    [{ Cmd: ["sh"] }, { entrypoint: [] }],
  ] as [ImageRuntimeConfig, Partial<ContainerOptions>][]) {
    assert.throws(() => mergeProcessArgs(image, opts(o)), INV(/^no command specified$/));
    assert.throws(() => generateSpec(testInput({ image, options: o })), INV(/no command specified/));
  }
});

test("--init wraps the command in catatonit and bind-mounts it read-only", () => {
  const s = generateSpec(testInput({ options: { init: true, cmd: ["sleep", "1"] } }));
  assert.deepEqual(s.process.args, ["/run/berth-init", "--", "sleep", "1"]);
  assert.deepEqual(mount(s.mounts, "/run/berth-init"), { destination: "/run/berth-init", type: "bind", source: "/usr/bin/catatonit", options: ["bind", "ro"] });
  const t = generateSpec(testInput({ options: { init: true }, initMountPath: "/sbin/init-x" }));
  assert.deepEqual(t.process.args, ["/sbin/init-x", "--", "sh"]);
  assert.equal(mount(t.mounts, "/sbin/init-x")?.source, "/usr/bin/catatonit");
  assert.throws(() => generateSpec(testInput({ options: { init: true }, host: { initPath: undefined } })), berthError("FAILED_PRECONDITION", /^--init: catatonit is not installed$/));
  assert.equal(mount(generateSpec(testInput()).mounts, "/run/berth-init"), undefined);
});

test("env: image then options, later wins in place, -e KEY from the host or removed, defaults added", () => {
  const s = generateSpec(
    testInput({
      image: { Env: ["A=1", "B=2", "PATH=/img/bin"], Cmd: ["sh"] },
      options: { env: ["B=3", "C=4", "A=5", "FROMHOST", "MISSING", "B"], tty: true },
      hostEnv: { FROMHOST: "h", B: undefined },
    }),
  );
  assert.deepEqual(s.process.env, ["PATH=/img/bin", `HOSTNAME=${TEST_ID.slice(0, 12)}`, "TERM=xterm", "A=5", "C=4", "FROMHOST=h", "HOME=/root"]);
  // Defaults when the image has nothing; user values for HOSTNAME/TERM/HOME/PATH win.
  const d = generateSpec(testInput({ image: { Cmd: ["sh"] } }));
  assert.deepEqual(d.process.env, [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${TEST_ID.slice(0, 12)}`, "HOME=/root"]);
  const u = generateSpec(testInput({ image: { Cmd: ["sh"] }, options: { env: ["TERM=vt100", "HOME=/h", "HOSTNAME=me"], tty: true } }));
  assert.deepEqual(u.process.env, [`PATH=${DEFAULT_PATH_ENV}`, "HOSTNAME=me", "TERM=vt100", "HOME=/h"]);
  assert.ok(!generateSpec(testInput()).process.env.some((e) => e.startsWith("TERM=")));
  const nobody = generateSpec(testInput({ user: { uid: 65534, gid: 65534, additionalGids: [], home: "/nonexistent" } }));
  assert.ok(nobody.process.env.includes("HOME=/nonexistent"));
  assert.throws(() => generateSpec(testInput({ options: { env: ["=x"] } })), INV(/--env "=x"/));
});

test("cwd, user, hostname, terminal", () => {
  assert.equal(generateSpec(testInput()).process.cwd, "/");
  assert.equal(generateSpec(testInput({ image: { Cmd: ["sh"], WorkingDir: "/srv/app/" } })).process.cwd, "/srv/app");
  assert.equal(generateSpec(testInput({ image: { Cmd: ["sh"], WorkingDir: "/srv" }, options: { workdir: "/tmp" } })).process.cwd, "/tmp");
  assert.throws(() => generateSpec(testInput({ options: { workdir: "rel" } })), INV(/--workdir "rel": must be an absolute path/));
  assert.throws(() => generateSpec(testInput({ image: { Cmd: ["sh"], WorkingDir: "app" } })), INV(/WorkingDir "app"/));

  const u = generateSpec(testInput({ user: { uid: 100, gid: 101, additionalGids: [85, 29], home: "/var/run/frr" } }));
  assert.deepEqual(u.process.user, { uid: 100, gid: 101, additionalGids: [85, 29] });
  assert.deepEqual(generateSpec(testInput()).process.user, { uid: 0, gid: 0 });

  assert.equal(generateSpec(testInput()).hostname, TEST_ID.slice(0, 12));
  assert.equal(generateSpec(testInput({ options: { hostname: "r1" } })).hostname, "r1");
  assert.throws(() => generateSpec(testInput({ options: { hostname: "bad name" } })), INV(/--hostname "bad name"/));
  const utsHost = generateSpec(testInput({ options: { uts: "host" }, host: { hostname: "vm1" } }));
  assert.equal(utsHost.hostname, undefined);
  assert.ok(utsHost.process.env.includes("HOSTNAME=vm1"));
  assert.throws(() => generateSpec(testInput({ options: { uts: "host", hostname: "x" } })), INV(/--uts host/));
  assert.equal(generateSpec(testInput({ options: { network: "host" }, host: { hostname: "vm1" } })).hostname, "vm1");

  assert.equal(generateSpec(testInput()).process.terminal, false);
  assert.equal(generateSpec(testInput({ options: { tty: true } })).process.terminal, true);
  assert.throws(() => generateSpec(testInput({ options: { stopSignal: "SIGNOPE" } })), INV(/invalid signal "SIGNOPE"/));
});

test("namespaces: defaults, host sharing, netns path, cgroup ns only on v2", () => {
  const types = (o: Partial<ContainerOptions>, host = {}, extra = {}) => generateSpec(testInput({ options: o, host, ...extra })).linux.namespaces.map((n) => n.type);
  assert.deepEqual(types({}), ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
  assert.deepEqual(types({}, { cgroupVersion: 1 }), ["pid", "network", "ipc", "uts", "mount"]);
  assert.deepEqual(types({ pid: "host", ipc: "host", uts: "host", network: "host" }), ["mount", "cgroup"]);
  assert.deepEqual(types({ network: "none", ipc: "shareable" }), ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
  const s = generateSpec(testInput({ netnsPath: "/run/berth/netns/lab-r1" }));
  assert.deepEqual(s.linux.namespaces[1], { type: "network", path: "/run/berth/netns/lab-r1" });
  assert.equal(s.linux.uidMappings, undefined);
});

test("user namespaces: keep-id (Podman's layout) and explicit maps", () => {
  assert.deepEqual(keepIdMaps(1000, { start: 100000, size: 65536 }), [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 1000, hostID: 1000, size: 1 },
    { containerID: 1001, hostID: 101000, size: 64536 },
  ]);
  assert.deepEqual(keepIdMaps(0, { start: 100000, size: 65536 }), [
    { containerID: 0, hostID: 0, size: 1 },
    { containerID: 1, hostID: 100000, size: 65536 },
  ]);
  assert.deepEqual(keepIdMaps(1000, undefined), [{ containerID: 1000, hostID: 1000, size: 1 }]);
  const k = generateSpec(testInput({ options: { userns: "keep-id" }, host: { uid: 1000, gid: 1000, subUids: { start: 100000, size: 65536 }, subGids: { start: 200000, size: 65536 } } }));
  assert.ok(k.linux.namespaces.some((n) => n.type === "user"));
  assert.deepEqual(k.linux.uidMappings?.[1], { containerID: 1000, hostID: 1000, size: 1 });
  assert.deepEqual(k.linux.gidMappings?.[0], { containerID: 0, hostID: 200000, size: 1000 });

  const maps = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const e = generateSpec(testInput({ options: { uidMaps: maps } }));
  assert.deepEqual(e.linux.uidMappings, maps);
  assert.deepEqual(e.linux.gidMappings, maps);
  assert.deepEqual(e.linux.namespaces.at(-1), { type: "user" });
  assert.throws(() => generateSpec(testInput({ options: { uidMaps: [{ containerID: 0, hostID: 1, size: 0 }] } })), INV(/--uidmap/));
  const overlap = [
    { containerID: 0, hostID: 100000, size: 10 },
    { containerID: 5, hostID: 200000, size: 10 },
  ];
  assert.throws(() => generateSpec(testInput({ options: { uidMaps: overlap } })), INV(/overlapping container ranges/));
  assert.throws(() => generateSpec(testInput({ options: { userns: "keep-id", uidMaps: maps } })), INV(/keep-id/));
  // With a user namespace but the host's netns, sysfs cannot be mounted: the host's /sys is bound instead.
  const hn = generateSpec(testInput({ options: { uidMaps: maps, network: "host" } }));
  assert.equal(mount(hn.mounts, "/sys")?.type, "bind");
});

test("default mounts, parents first; shm size; ipc host binds the host's /dev/shm and /dev/mqueue", () => {
  const s = generateSpec(testInput());
  assert.deepEqual(
    s.mounts.map((m) => `${m.destination}:${m.type}`),
    ["/proc:proc", "/dev:tmpfs", "/sys:sysfs", "/dev/pts:devpts", "/dev/shm:tmpfs", "/dev/mqueue:mqueue", "/sys/fs/cgroup:cgroup"],
  );
  assert.deepEqual(mount(s.mounts, "/dev/shm")?.options, ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]);
  assert.ok(mount(s.mounts, "/sys")?.options?.includes("ro"));
  assert.ok(mount(s.mounts, "/sys/fs/cgroup")?.options?.includes("ro"));
  assert.deepEqual(mount(s.mounts, "/dev/pts")?.options, ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]);
  assert.ok(mount(generateSpec(testInput({ options: { shmSize: 256 * 1024 * 1024 } })).mounts, "/dev/shm")?.options?.includes("size=262144k"));
  assert.throws(() => generateSpec(testInput({ options: { shmSize: 0 } })), INV(/--shm-size/));
  const ipc = generateSpec(testInput({ options: { ipc: "host" } }));
  assert.deepEqual(mount(ipc.mounts, "/dev/shm"), { destination: "/dev/shm", type: "bind", source: "/dev/shm", options: ["rbind", "nosuid", "noexec", "nodev"] });
  assert.equal(mount(ipc.mounts, "/dev/mqueue")?.type, "bind");
});

test("tmpfs, binds and extra mounts: Docker's tmpfs options, user mounts replace defaults, sorted by depth", () => {
  const s = generateSpec(
    testInput({
      options: {
        tmpfs: { "/run": "", "/tmp/": "size=64m,mode=1777,exec", "/dev/shm": "size=1g" },
        mounts: [
          { type: "bind", source: "/srv/data", destination: "/data/sub", readOnly: true },
          { type: "bind", source: "/srv/cfg/", destination: "/etc/frr" },
          { type: "tmpfs", destination: "/data", options: ["size=1m"] },
        ],
      },
      extraMounts: [
        { destination: "/etc/hosts", type: "bind", source: "/run/berth/x/hosts", options: ["rbind", "ro"] },
        { destination: "/etc/frr", type: "bind", source: "/engine/frr", options: ["rbind"] },
      ],
    }),
  );
  assert.deepEqual(mount(s.mounts, "/run"), { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["rw", "nosuid", "nodev", "noexec"] });
  assert.deepEqual(mount(s.mounts, "/tmp")?.options, ["rw", "nosuid", "nodev", "size=64m", "mode=1777", "exec"]);
  assert.deepEqual(mount(s.mounts, "/dev/shm"), { destination: "/dev/shm", type: "tmpfs", source: "tmpfs", options: ["rw", "nosuid", "nodev", "noexec", "size=1g"] });
  assert.equal(s.mounts.filter((m) => m.destination === "/dev/shm").length, 1);
  assert.deepEqual(mount(s.mounts, "/data/sub"), { destination: "/data/sub", type: "bind", source: "/srv/data", options: ["rbind", "ro"] });
  assert.deepEqual(mount(s.mounts, "/etc/frr"), { destination: "/etc/frr", type: "bind", source: "/srv/cfg", options: ["rbind", "rw"] });
  assert.equal(mount(s.mounts, "/etc/hosts")?.source, "/run/berth/x/hosts");
  const order = s.mounts.map((m) => m.destination);
  assert.ok(order.indexOf("/data") < order.indexOf("/data/sub"));
  for (let i = 1; i < s.mounts.length; i++) assert.ok(order[i - 1]!.split("/").length <= order[i]!.split("/").length, order.join(" "));
  // A user /dev replaces the default /dev and everything under it.
  const dev = generateSpec(testInput({ options: { mounts: [{ type: "bind", source: "/dev", destination: "/dev" }] } }));
  assert.deepEqual(dev.mounts.filter((m) => m.destination.startsWith("/dev")).map((m) => m.destination), ["/dev"]);
});

test("mount errors: relative destinations, duplicates, '/', bind without source, bad tmpfs options", () => {
  assert.throws(() => generateSpec(testInput({ options: { tmpfs: { run: "" } } })), INV(/--tmpfs "run": must be an absolute path/));
  assert.throws(() => generateSpec(testInput({ options: { mounts: [{ type: "bind", source: "/a", destination: "b" }] } })), INV(/--mount destination "b"/));
  assert.throws(() => generateSpec(testInput({ options: { mounts: [{ type: "bind", source: "a", destination: "/b" }] } })), INV(/--mount source "a"/));
  assert.throws(() => generateSpec(testInput({ options: { mounts: [{ type: "bind", destination: "/b" }] } })), INV(/needs a source/));
  assert.throws(() => generateSpec(testInput({ options: { tmpfs: { "/": "" } } })), INV(/"\/"/));
  assert.throws(
    () => generateSpec(testInput({ options: { tmpfs: { "/x": "" }, mounts: [{ type: "bind", source: "/a", destination: "/x/" }] } })),
    INV(/duplicate mount point "\/x"/),
  );
  assert.throws(() => generateSpec(testInput({ options: { tmpfs: { "/x": "size=lots" } } })), INV(/--tmpfs option "size=lots"/));
  assert.throws(() => generateSpec(testInput({ options: { tmpfs: { "/x": "mode=999" } } })), INV(/mode/));
  assert.throws(() => generateSpec(testInput({ extraMounts: [{ destination: "etc/hosts" }] })), INV(/mount destination "etc\/hosts"/));
});

test("--read-only: read-only root, /dev stays writable, sysfs stays read-only even when privileged", () => {
  const s = generateSpec(testInput({ options: { readOnly: true, tmpfs: { "/run": "" } } }));
  assert.deepEqual(s.root, { path: `/var/lib/berth/overlay/${TEST_ID}/merged`, readonly: true });
  for (const d of ["/dev", "/dev/shm", "/dev/mqueue", "/dev/pts"]) assert.ok(!mount(s.mounts, d)?.options?.includes("ro"), d);
  assert.ok(mount(s.mounts, "/run")?.options?.includes("rw"));
  assert.equal(generateSpec(testInput()).root.readonly, false);
  const p = generateSpec(testInput({ options: { readOnly: true, privileged: true } }));
  assert.ok(mount(p.mounts, "/sys")?.options?.includes("ro"));
});

test("capabilities: Docker's default mask for every user; add/drop through the flags", () => {
  const s = generateSpec(testInput());
  const c = s.process.capabilities!;
  assert.equal(capMask(c.bounding), 0xa80425fbn);
  assert.deepEqual(c.effective, c.bounding);
  assert.deepEqual(c.permitted, c.bounding);
  assert.equal(c.inheritable, undefined);
  assert.equal(c.ambient, undefined);
  // Docker keeps the same sets for a non-root user (the kernel drops effective/permitted at exec).
  const nonRoot = generateSpec(testInput({ user: { uid: 1000, gid: 1000, additionalGids: [], home: "/" } })).process.capabilities!;
  assert.equal(capMask(nonRoot.effective), 0xa80425fbn);
  assert.deepEqual(generateSpec(testInput({ options: { capDrop: ["ALL"] } })).process.capabilities!.bounding, []);
  assert.deepEqual(generateSpec(testInput({ options: { capDrop: ["ALL"], capAdd: ["net_admin"] } })).process.capabilities!.bounding, ["CAP_NET_ADMIN"]);
  assert.equal(generateSpec(testInput({ options: { capAdd: ["ALL"] }, host: { capLastCap: 38 } })).process.capabilities!.bounding.length, 39);
  assert.throws(() => generateSpec(testInput({ options: { capAdd: ["FOO"] } })), INV(/^invalid --cap-add "FOO": unknown capability$/));
});

test("default security: seccomp from defaultSeccomp(bounding, arch), masked and read-only paths, device rules", () => {
  const s = generateSpec(testInput({ options: { capAdd: ["SYS_ADMIN"] } }));
  assert.deepEqual(s.linux.seccomp, defaultSeccomp({ capabilities: s.process.capabilities!.bounding, arch: "amd64" }));
  assert.ok(s.linux.maskedPaths?.includes("/proc/kcore"));
  assert.ok(s.linux.maskedPaths?.includes("/sys/firmware"));
  assert.ok(!generateSpec(testInput({ host: { procKcore: false } })).linux.maskedPaths?.includes("/proc/kcore"));
  assert.deepEqual(s.linux.readonlyPaths, ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);
  const dev = s.linux.resources!.devices!;
  assert.deepEqual(dev[0], { allow: false, access: "rwm" });
  assert.ok(dev.some((d) => d.allow && d.type === "c" && d.major === 1 && d.minor === 3 && d.access === "rwm"));
  assert.ok(dev.some((d) => d.allow && d.type === "c" && d.major === 136 && d.minor === undefined));
  assert.ok(!dev.some((d) => d.allow && d.type === "b" && d.access !== "m"));
  assert.equal(s.linux.devices, undefined);
  assert.equal(s.process.noNewPrivileges, undefined);
  assert.equal(s.process.apparmorProfile, undefined);
  assert.equal(generateSpec(testInput({ host: { seccomp: false } })).linux.seccomp, undefined);
  assert.deepEqual(s.annotations, { "berth.container.id": TEST_ID });
});

test("--privileged: all caps, no seccomp, no masked/read-only paths, every device, writable /sys", () => {
  const s = generateSpec(testInput({ options: { privileged: true, securityOpt: ["seccomp=/p.json"] }, seccompProfile: { defaultAction: "SCMP_ACT_KILL" }, host: { apparmor: { enabled: true, defaultProfile: "berth-default" } } }));
  assert.equal(s.process.capabilities!.bounding.length, 41);
  assert.equal(s.linux.seccomp, undefined);
  assert.equal(s.linux.maskedPaths, undefined);
  assert.equal(s.linux.readonlyPaths, undefined);
  assert.equal(s.process.apparmorProfile, undefined);
  assert.deepEqual(s.linux.resources!.devices, [{ allow: true, access: "rwm" }]);
  assert.deepEqual(
    s.linux.devices!.map((d) => d.path),
    ["/dev/null", "/dev/sda", "/dev/net/tun"],
  );
  assert.deepEqual(s.linux.devices![1], { path: "/dev/sda", type: "b", major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 });
  assert.ok(mount(s.mounts, "/sys")?.options?.includes("rw"));
  assert.ok(!mount(s.mounts, "/sys")?.options?.includes("ro"));
  assert.ok(mount(s.mounts, "/sys/fs/cgroup")?.options?.includes("rw"));
  // Only what berth itself holds (this VM's root lacks CAP_SYS_RESOURCE).
  const capBounding = capabilitySet({ privileged: true }, 40).filter((c) => c !== "CAP_SYS_RESOURCE");
  const lacking = generateSpec(testInput({ options: { privileged: true }, host: { capBounding } }));
  assert.deepEqual(lacking.process.capabilities!.bounding, capBounding);
  assert.equal(lacking.linux.seccomp, undefined);
});

test("security options: no-new-privileges, seccomp, apparmor, label, systempaths, mask/unmask, unknown", () => {
  for (const v of ["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"]) {
    assert.equal(generateSpec(testInput({ options: { securityOpt: [v] } })).process.noNewPrivileges, true, v);
  }
  assert.equal(generateSpec(testInput({ options: { securityOpt: ["no-new-privileges=false"] } })).process.noNewPrivileges, undefined);
  assert.throws(() => generateSpec(testInput({ options: { securityOpt: ["no-new-privileges=maybe"] } })), INV(/no-new-privileges=maybe/));
  assert.equal(generateSpec(testInput({ options: { securityOpt: ["seccomp=unconfined"] } })).linux.seccomp, undefined);
  assert.equal(generateSpec(testInput({ options: { securityOpt: ["seccomp:unconfined"] } })).linux.seccomp, undefined);

  const aa = { apparmor: { enabled: true, defaultProfile: "berth-default" } };
  assert.equal(generateSpec(testInput({ host: aa })).process.apparmorProfile, "berth-default");
  assert.equal(generateSpec(testInput({ host: aa, options: { securityOpt: ["apparmor=unconfined"] } })).process.apparmorProfile, undefined);
  assert.equal(generateSpec(testInput({ host: aa, options: { securityOpt: ["apparmor=lab"] } })).process.apparmorProfile, "lab");
  assert.equal(generateSpec(testInput({ host: aa, options: { privileged: true, securityOpt: ["apparmor=lab"] } })).process.apparmorProfile, "lab");
  assert.equal(generateSpec(testInput({ host: { apparmor: { enabled: true } } })).process.apparmorProfile, undefined);
  assert.throws(() => generateSpec(testInput({ options: { securityOpt: ["apparmor=lab"] } })), INV(/AppArmor is not enabled/));

  const lab = generateSpec(testInput({ host: { selinux: true }, options: { securityOpt: ["label=type:spc_t", "label=level:s0:c1,c2"] } }));
  assert.equal(lab.process.selinuxLabel, "system_u:system_r:spc_t:s0:c1,c2");
  assert.equal(lab.linux.mountLabel, "system_u:object_r:container_file_t:s0:c1,c2");
  assert.equal(generateSpec(testInput({ options: { securityOpt: ["label=type:spc_t"] } })).process.selinuxLabel, undefined);
  assert.equal(generateSpec(testInput({ host: { selinux: true }, options: { securityOpt: ["label=disable", "label=type:spc_t"] } })).process.selinuxLabel, undefined);
  assert.throws(() => generateSpec(testInput({ options: { securityOpt: ["label=bogus"] } })), INV(/label=bogus/));

  assert.equal(generateSpec(testInput({ options: { securityOpt: ["systempaths=unconfined"] } })).linux.maskedPaths, undefined);
  const mk = generateSpec(testInput({ options: { securityOpt: ["mask=/proc/cpuinfo:/sys/kernel", "unmask=/proc/sys:/proc/keys"] } }));
  assert.ok(mk.linux.maskedPaths?.includes("/proc/cpuinfo") && mk.linux.maskedPaths.includes("/sys/kernel"));
  assert.ok(!mk.linux.maskedPaths?.includes("/proc/keys"));
  assert.ok(!mk.linux.readonlyPaths?.includes("/proc/sys"));
  const all = generateSpec(testInput({ options: { securityOpt: ["unmask=ALL"] } }));
  assert.equal(all.linux.maskedPaths, undefined);
  assert.equal(all.linux.readonlyPaths, undefined);

  assert.throws(() => generateSpec(testInput({ options: { securityOpt: ["frobnicate=1"] } })), INV(/^invalid --security-opt "frobnicate=1": unknown option$/));
  assert.throws(() => generateSpec(testInput({ options: { securityOpt: ["seccomp="] } })), INV(/missing value/));
});

test("seccomp=FILE: Docker's profile format converted to the OCI shape", () => {
  const profile = {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    archMap: [
      { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
      { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
    ],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
      { name: "personality", action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0, op: "SCMP_CMP_EQ" }] },
      { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      { names: ["ptrace"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_SYS_PTRACE"] } },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32"] } },
      { names: ["set_tls"], action: "SCMP_ACT_ALLOW", includes: { arches: ["arm", "arm64"] } },
      { names: ["newcall"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "7.2" } },
      { names: ["kexec_load"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
    ],
  };
  const input = testInput({ options: { securityOpt: ["seccomp=/etc/p.json"] }, seccompProfile: profile, host: { kernelVersion: "6.1.0-18-amd64" } });
  const s = generateSpec(input);
  assert.deepEqual(s.linux.seccomp, {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
      { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0, op: "SCMP_CMP_EQ" }] },
      { names: ["ptrace"], action: "SCMP_ACT_ALLOW" },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW" },
      { names: ["kexec_load"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
    ],
  });
  const admin = convertSeccompProfile(profile, { capabilities: ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], arch: "arm64" });
  assert.deepEqual(admin.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  assert.deepEqual(admin.syscalls!.map((r) => r.names[0]), ["read", "personality", "mount", "set_tls", "newcall", "kexec_load"]);
  assert.deepEqual(convertSeccompProfile({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"] }, { capabilities: [], arch: "amd64" }), {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64"],
  });

  const bad = (p: unknown, re: RegExp) =>
    assert.throws(() => generateSpec(testInput({ options: { securityOpt: ["seccomp=/etc/p.json"] }, seccompProfile: p })), INV(re), JSON.stringify(p));
  bad([], /seccomp=\/etc\/p\.json: the profile must be a JSON object/);
  bad({ defaultAction: "SCMP_ACT_MAYBE" }, /defaultAction: unknown action/);
  bad({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_Z80"] }, /unknown architecture/);
  bad({ defaultAction: "SCMP_ACT_ALLOW", architectures: [], archMap: [] }, /either "architectures" or "archMap"/);
  bad({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ name: "a", names: ["b"], action: "SCMP_ACT_ALLOW" }] }, /syscalls\[0\]: use either "name" or "names"/);
  bad({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ALLOW" }] }, /syscalls\[0\]: needs "name"/);
  bad({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["a"], action: "SCMP_ACT_ALLOW", args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }] }] }, /index must be 0\.\.5/);
  bad({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["a"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0, op: "EQ" }] }] }, /unknown op/);
  assert.throws(() => generateSpec(testInput({ options: { securityOpt: ["seccomp=/etc/p.json"] } })), INV(/not loaded/));
  assert.throws(
    () => generateSpec(testInput({ options: { securityOpt: ["seccomp=/etc/p.json"] }, seccompProfile: profile, host: { seccomp: false } })),
    INV(/seccomp is not enabled/),
  );
});

test("validateOptions checks the option-only rules without an image or rootfs", () => {
  validateOptions(opts({ memory: 64 * 1024 * 1024, capAdd: ["NET_ADMIN"], securityOpt: ["seccomp=/x.json"] }), testHost());
  validateOptions(opts({ entrypoint: ["/x"] }), testHost());
  assert.throws(() => validateOptions(opts({ capAdd: ["FOO"] }), testHost()), INV(/--cap-add "FOO"/));
  assert.throws(() => validateOptions(opts({ memorySwap: 1 }), testHost()), INV(/--memory-swap/));
  assert.throws(() => validateOptions(opts({ entrypoint: [] }), testHost()), INV(/no command specified/));
  assert.throws(() => validateOptions(opts({ securityOpt: ["bogus"] }), testHost()), INV(/bogus/));
});

test("generateSpec is deterministic and does not modify its input", () => {
  const input = testInput({ options: { env: ["A=1"], tmpfs: { "/run": "" }, capAdd: ["NET_ADMIN"], ulimits: [{ name: "nofile", soft: 1, hard: 2 }] } });
  const copy = structuredClone(input);
  const a = JSON.stringify(generateSpec(input));
  assert.deepEqual(input, copy);
  assert.equal(JSON.stringify(generateSpec(input)), a);
});
