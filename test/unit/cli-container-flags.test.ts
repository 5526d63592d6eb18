import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "commander";
import { parseEnvFile, parseMount, parseRestart, parseSize, parseUlimit, parseVolume, toContainerOptions, toResources, type ContainerFlagValues, type FlagEnv } from "../../src/cli/container-flags.js";
import { parseTimeArg } from "../../src/cli/commands/logs.js";
import { toRow } from "../../src/cli/commands/ps.js";
import { binarySize, withCpuDelta } from "../../src/cli/commands/stats.js";
import { buildProgram } from "../../src/cli/main.js";
import { BerthError } from "../../src/core/errors.js";

const MiB = 1024 * 1024;
const files: Record<string, string> = {};
const fakeEnv: FlagEnv = {
  hostEnv: { HOME_DIR: "/home/x", EMPTY: "" },
  readFile: (p) => {
    if (!(p in files)) throw new Error(`ENOENT: no such file or directory, open '${p}'`);
    return files[p]!;
  },
};
const opts = (o: ContainerFlagValues, args: string[] = []) => toContainerOptions("busybox", args, o, fakeEnv);

/** Asserts an INVALID_ARGUMENT whose one-line message contains every fragment. */
function rejects(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BerthError, `not a BerthError: ${String(e)}`);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.ok(!e.message.includes("\n"), e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

test("sizes like Docker's RAMInBytes", () => {
  assert.equal(parseSize("--memory", "512m"), 512 * MiB);
  assert.equal(parseSize("--memory", "1g"), 1024 * MiB);
  assert.equal(parseSize("--memory", "1G"), 1024 * MiB);
  assert.equal(parseSize("--memory", "1.5GiB"), 1536 * MiB);
  assert.equal(parseSize("--memory", "100k"), 102400);
  assert.equal(parseSize("--memory", "100kb"), 102400);
  assert.equal(parseSize("--memory", "4096"), 4096);
  assert.equal(parseSize("--memory", "10b"), 10);
  assert.equal(parseSize("--shm-size", "2T"), 2 * 1024 ** 4);
  for (const bad of ["abc", "", "12x", "-1", "1.2.3m", "m"]) rejects(() => parseSize("--memory", bad), "--memory", `"${bad}"`, "512m");
});

test("resource flags: minimums, swap, cpus and errors naming the flag", () => {
  assert.deepEqual(toResources({ memory: "512m", memorySwap: "-1", cpus: "1.5", cpuShares: "512", pidsLimit: "-1", cpusetCpus: "0-2,4" }), {
    memory: 512 * MiB,
    memorySwap: -1,
    cpus: 1.5,
    cpuShares: 512,
    pidsLimit: -1,
    cpusetCpus: "0-2,4",
  });
  rejects(() => toResources({ memory: "4m" }), "--memory", '"4m"', "6MB");
  assert.equal(toResources({ memory: "6m" }).memory, 6 * MiB);
  assert.equal(toResources({ memory: "0" }).memory, 0);
  rejects(() => toResources({ memory: "abc" }), 'invalid --memory "abc": expected a size such as 512m');
  rejects(() => toResources({ memory: "512m", memorySwap: "256m" }), "--memory-swap", "256m");
  rejects(() => toResources({ memorySwap: "1g" }), "--memory-swap", "--memory");
  assert.equal(toResources({ memorySwap: "1g" }, true).memorySwap, 1024 * MiB);
  for (const bad of ["0", "-1", "abc", "1e3", ""]) rejects(() => toResources({ cpus: bad }), "--cpus", `"${bad}"`, "positive");
  rejects(() => toResources({ cpusetCpus: "a-b" }), "--cpuset-cpus");
  rejects(() => toResources({ blkioWeight: "5" }), "--blkio-weight", "10 to 1000");
  rejects(() => toResources({ pidsLimit: "x" }), "--pids-limit", '"x"');
  rejects(() => toResources({ cpuShares: "1.5" }), "--cpu-shares");
});

test("restart policies", () => {
  assert.deepEqual(parseRestart("no"), { name: "no", maximumRetryCount: 0 });
  assert.deepEqual(parseRestart("always"), { name: "always", maximumRetryCount: 0 });
  assert.deepEqual(parseRestart("unless-stopped"), { name: "unless-stopped", maximumRetryCount: 0 });
  assert.deepEqual(parseRestart("on-failure"), { name: "on-failure", maximumRetryCount: 0 });
  assert.deepEqual(parseRestart("on-failure:3"), { name: "on-failure", maximumRetryCount: 3 });
  rejects(() => parseRestart("on-failure:x"), "--restart", '"x"');
  rejects(() => parseRestart("on-failure:-1"), "--restart");
  rejects(() => parseRestart("always:3"), "--restart", "on-failure");
  rejects(() => parseRestart("sometimes"), "--restart", '"sometimes"');
  rejects(() => opts({ restart: "always", rm: true }), "conflicting", "--restart", "--rm");
  assert.equal(opts({ restart: "no", rm: true }).autoRemove, true);
  assert.deepEqual(opts({ restart: "on-failure:2" }).restart, { name: "on-failure", maximumRetryCount: 2 });
});

test("ulimits", () => {
  assert.deepEqual(parseUlimit("nofile=1024:2048"), { name: "nofile", soft: 1024, hard: 2048 });
  assert.deepEqual(parseUlimit("nproc=512"), { name: "nproc", soft: 512, hard: 512 });
  rejects(() => parseUlimit("core=-1"), "--ulimit", '"-1"');
  rejects(() => parseUlimit("nofile=2048:1024"), "--ulimit", "soft limit");
  rejects(() => parseUlimit("bogus=1"), "--ulimit", '"bogus=1"');
  rejects(() => parseUlimit("nofile"), "--ulimit");
  rejects(() => parseUlimit("nofile=a"), "--ulimit", '"a"');
  rejects(() => parseUlimit("nofile=1:2:3"), "--ulimit");
  assert.deepEqual(opts({ ulimit: ["nofile=10:20", "nproc=5"] }).ulimits, [
    { name: "nofile", soft: 10, hard: 20 },
    { name: "nproc", soft: 5, hard: 5 },
  ]);
});

test("env files: comments, blank lines, bare keys, verbatim values; -e wins and bare -e resolves", () => {
  const text = "# comment\n\nA=1\n  B=two words \nC=\"quoted\"\nHOME_DIR\nUNSET_HERE\nD=x=y\r\n";
  assert.deepEqual(parseEnvFile(text, "f", fakeEnv.hostEnv), ["A=1", "B=two words ", 'C="quoted"', "HOME_DIR=/home/x", "D=x=y"]);
  rejects(() => parseEnvFile("=1\n", "f", {}), "--env-file", "line 1");
  rejects(() => parseEnvFile("A B=1\n", "f", {}), "--env-file", "whitespace");
  files["/e1"] = "A=file\nB=file\n";
  assert.deepEqual(opts({ envFile: ["/e1"], env: ["A=flag", "HOME_DIR", "NOPE", "EMPTY"] }).env, ["A=file", "B=file", "A=flag", "HOME_DIR=/home/x", "EMPTY="]);
  rejects(() => opts({ envFile: ["/missing"] }), "--env-file", "/missing");
  rejects(() => opts({ env: ["=x"] }), "--env");
  assert.equal(opts({}).env, undefined);
});

test("labels from flags and files", () => {
  files["/l1"] = "# labels\na=1\nbare\n";
  assert.deepEqual(opts({ labelFile: ["/l1"], label: ["a=2", "b"] }).labels, { a: "2", bare: "", b: "" });
});

test("entrypoint: a string is one program, \"\" clears it, a JSON array is argv", () => {
  assert.deepEqual(opts({ entrypoint: "" }).entrypoint, []);
  assert.deepEqual(opts({ entrypoint: "/bin/sh -c" }).entrypoint, ["/bin/sh -c"]);
  assert.deepEqual(opts({ entrypoint: '["/bin/sh","-c"]' }).entrypoint, ["/bin/sh", "-c"]);
  assert.equal(opts({}).entrypoint, undefined);
  assert.deepEqual(opts({}, ["ls", "-l"]).cmd, ["ls", "-l"]);
  assert.equal(opts({}).cmd, undefined);
});

test("volumes and mounts", () => {
  assert.deepEqual(parseVolume("/h:/c"), { type: "bind", source: "/h", destination: "/c" });
  assert.deepEqual(parseVolume("/h:/c:ro"), { type: "bind", source: "/h", destination: "/c", readOnly: true });
  assert.deepEqual(parseVolume("/h:/c:rw,rshared"), { type: "bind", source: "/h", destination: "/c", options: ["rshared"] });
  assert.deepEqual(parseVolume("data:/c"), { type: "volume", source: "data", destination: "/c" });
  assert.deepEqual(parseVolume("data:/c:ro,nocopy"), { type: "volume", source: "data", destination: "/c", readOnly: true, noCopy: true });
  assert.deepEqual(parseVolume("/anon"), { type: "volume", destination: "/anon" });
  rejects(() => parseVolume("d:/c"), "--volume", "volume name");
  rejects(() => parseVolume("data:/c:rshared"), "--volume", "rshared");
  rejects(() => parseVolume("/h:c"), "--volume", "absolute");
  rejects(() => parseVolume("/h:/"), "--volume");
  rejects(() => parseVolume("/h:/c:bogus"), "--volume", "bogus");
  rejects(() => parseVolume("/a:/b:ro:x"), "--volume");
  assert.deepEqual(parseMount("type=bind,source=/h,target=/c,readonly"), { type: "bind", source: "/h", destination: "/c", readOnly: true });
  assert.deepEqual(parseMount("type=bind,src=/h,dst=/c,bind-propagation=rslave"), { type: "bind", source: "/h", destination: "/c", options: ["rslave"] });
  assert.deepEqual(parseMount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777"), { type: "tmpfs", destination: "/t", options: [`size=${64 * MiB}`, "mode=1777"] });
  assert.deepEqual(parseMount("type=volume,source=vv,target=/c,readonly,volume-nocopy"), { type: "volume", source: "vv", destination: "/c", readOnly: true, noCopy: true });
  assert.deepEqual(parseMount("target=/c"), { type: "volume", destination: "/c" });
  rejects(() => parseMount("type=volume,source=/h,target=/c"), "--mount", "volume name");
  rejects(() => parseMount("type=bind,target=/c"), "--mount", "source");
  rejects(() => parseMount("type=bind,source=/h,target=/c,colour=red"), "--mount", "colour");
  assert.deepEqual(opts({ volume: ["/h:/c:ro"], mount: ["type=tmpfs,target=/t"] }).mounts, [
    { type: "bind", source: "/h", destination: "/c", readOnly: true },
    { type: "tmpfs", destination: "/t" },
  ]);
  assert.deepEqual(opts({ tmpfs: ["/run:size=64m,mode=1777", "/tmp"] }).tmpfs, { "/run": "size=64m,mode=1777", "/tmp": "" });
  rejects(() => opts({ tmpfs: ["run"] }), "--tmpfs");
});

test("the rest of the flags", () => {
  const o = opts({
    name: "web",
    workdir: "/srv",
    user: "1000:1000",
    hostname: "h",
    tty: true,
    interactive: true,
    pid: "host",
    ipc: "shareable",
    uts: "host",
    userns: "keep-id",
    uidmap: ["0:100000:65536"],
    shmSize: "128m",
    capAdd: ["net_admin,SYS_TIME", "CAP_NET_RAW"],
    capDrop: ["all"],
    securityOpt: ["no-new-privileges", "seccomp=unconfined"],
    sysctl: ["net.ipv4.ip_forward=1"],
    stopSignal: "int",
    stopTimeout: "3",
    net: "none",
    oomScoreAdj: "-500",
    init: true,
    readOnly: true,
    privileged: true,
  });
  assert.equal(o.name, "web");
  assert.equal(o.pid, "host");
  assert.equal(o.ipc, "shareable");
  assert.equal(o.userns, "keep-id");
  assert.deepEqual(o.uidMaps, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  assert.equal(o.shmSize, 128 * MiB);
  assert.deepEqual(o.capAdd, ["CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_NET_RAW"]);
  assert.deepEqual(o.capDrop, ["ALL"]);
  assert.deepEqual(o.sysctls, { "net.ipv4.ip_forward": "1" });
  assert.equal(o.stopSignal, "SIGINT");
  assert.equal(o.stopTimeout, 3);
  assert.equal(o.network, "none");
  assert.equal(o.oomScoreAdj, -500);
  assert.equal(o.tty && o.interactive && o.init && o.readOnly && o.privileged, true);
  rejects(() => opts({ pid: "container:x" }), "--pid", "container:x");
  rejects(() => opts({ ipc: "none" }), "--ipc");
  rejects(() => opts({ uidmap: ["0:1"] }), "--uidmap", "container:host:size");
  rejects(() => opts({ securityOpt: ["bogus"] }), "--security-opt", "bogus");
  rejects(() => opts({ sysctl: ["x"] }), "--sysctl", '"x"');
  rejects(() => opts({ stopSignal: "SIGFOO" }), "--stop-signal", "SIGFOO");
  rejects(() => opts({ oomScoreAdj: "2000" }), "--oom-score-adj", "-1000 to 1000");
  rejects(() => opts({ capAdd: ["net admin"] }), "--cap-add");
  assert.deepEqual(opts({}), { image: "busybox" });
});

/** Parse argv with the real program, capturing what the action of `path` receives instead of running it. */
async function parsed(path: string[], argv: string[]): Promise<unknown[]> {
  const program = buildProgram();
  let cmd: Command = program;
  for (const p of path) cmd = cmd.commands.find((c) => c.name() === p)!;
  let got: unknown[] = [];
  cmd.action((...a: unknown[]) => {
    got = a.slice(0, -1);
  });
  await program.parseAsync(argv, { from: "user" });
  return got;
}

test("run, create and exec hand everything after the image or container to its command", async () => {
  const [image, args, o] = await parsed(["run"], ["run", "--rm", "-e", "A=1", "busybox", "ls", "-l", "--rm"]);
  assert.equal(image, "busybox");
  assert.deepEqual(args, ["ls", "-l", "--rm"]);
  assert.equal((o as ContainerFlagValues).rm, true);
  assert.deepEqual((o as ContainerFlagValues).env, ["A=1"]);
  const [, cargs, co] = await parsed(["container", "create"], ["container", "create", "-h", "box", "busybox", "sh", "-c", "echo hi"]);
  assert.deepEqual(cargs, ["sh", "-c", "echo hi"]);
  assert.equal((co as ContainerFlagValues).hostname, "box");
  const [ref, eargs] = await parsed(["exec"], ["exec", "-it", "c1", "ps", "-ef"]);
  assert.equal(ref, "c1");
  assert.deepEqual(eargs, ["ps", "-ef"]);
  const [, topArgs] = await parsed(["top"], ["top", "c1", "-eo", "pid,comm"]);
  assert.deepEqual(topArgs, ["-eo", "pid,comm"]);
  // Global flags still work before the verb; other verbs still parse their own flags.
  const [, , po] = await parsed(["run"], ["--root", "/tmp/r", "run", "-d", "busybox"]);
  assert.equal((po as { detach?: boolean }).detach, true);
  const [pso] = await parsed(["container", "ls"], ["container", "list", "-a", "--filter", "status=exited"]);
  assert.deepEqual(pso, { all: true, trunc: true, filter: ["status=exited"] });
});

test("logs times, ps rows and stats figures", () => {
  const now = Date.parse("2026-01-10T00:00:00Z");
  assert.equal(parseTimeArg("--since", "1700000000.5", now), 1700000000.5);
  assert.equal(parseTimeArg("--since", "10m", now), now / 1000 - 600);
  assert.equal(parseTimeArg("--since", "1h30m", now), now / 1000 - 5400);
  assert.equal(parseTimeArg("--until", "2026-01-09T23:00:00Z", now), now / 1000 - 3600);
  rejects(() => parseTimeArg("--since", "yesterday", now), "--since", "yesterday");
  const row = toRow(
    { Id: "a".repeat(64), Names: ["/web"], Image: "busybox", ImageID: "sha256:b", Command: "sh -c 'sleep 1000; echo done'", Created: now / 1000 - 180, State: "running", Status: "Up 3 minutes", ExitCode: 0, Labels: { a: "1" }, Pid: 1 },
    false,
    now,
  );
  assert.equal(row.ID, "a".repeat(12));
  assert.equal(row.Command, '"sh -c \'sleep 1000; …"');
  assert.equal([...JSON.parse(row.Command)].length, 20);
  assert.equal(row.RunningFor, "3 minutes ago");
  assert.equal(row.Names, "web");
  assert.equal(binarySize(1536 * 1024), "1.5MiB");
  assert.equal(binarySize(0), "0B");
  const base = { Id: "x", Name: "n", CPUPerc: 0, MemUsage: 0, MemLimit: 0, MemPerc: 0, PIDs: 1 };
  assert.equal(withCpuDelta({ ...base, cpuNs: 3e9, at: 2e9 }, { ...base, cpuNs: 1e9, at: 1e9 }).CPUPerc, 200);
  assert.equal(withCpuDelta({ ...base, CPUPerc: 7, cpuNs: 3e9, at: 2e9 }, undefined).CPUPerc, 7);
});

test("network flags of run/create reach ContainerOptions", async () => {
  const [, , o] = await parsed(["run"], ["run", "--net", "lab", "--ip", "10.1.0.5", "--ip6", "fd00::5", "--network-alias", "r1", "--network-alias", "r1.lab", "--mac-address", "02:00:00:00:00:05", "-p", "8080:80", "--publish", "127.0.0.1::53/udp", "-P", "--dns", "10.1.0.1", "--dns-search", "lab", "--dns-option", "ndots:1", "--add-host", "gw:10.1.0.1", "busybox"]);
  assert.deepEqual(opts(o as ContainerFlagValues), {
    image: "busybox",
    network: "lab",
    ip: "10.1.0.5",
    ip6: "fd00::5",
    networkAliases: ["r1", "r1.lab"],
    macAddress: "02:00:00:00:00:05",
    publish: [
      { hostPort: 8080, containerPort: 80, protocol: "tcp" },
      { hostIp: "127.0.0.1", hostPort: 0, containerPort: 53, protocol: "udp" },
    ],
    publishAll: true,
    dns: ["10.1.0.1"],
    dnsSearch: ["lab"],
    dnsOptions: ["ndots:1"],
    addHosts: ["gw:10.1.0.1"],
  });
  const [, , co] = await parsed(["container", "create"], ["container", "create", "--network", "container:web", "busybox"]);
  assert.equal(opts(co as ContainerFlagValues).network, "container:web");
  rejects(() => opts({ publish: ["80:http"] }), 'invalid -p "80:http"');
  rejects(() => opts({ ip: "10.1.0.300" }), 'invalid --ip "10.1.0.300"');
  rejects(() => opts({ network: "host", publish: ["80"] }), "conflicting options");
});
