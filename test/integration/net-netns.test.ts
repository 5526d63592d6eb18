/**
 * Named network namespaces under a temporary runroot: create, list, exists, nsenter, delete (also
 * while a process is inside, and idempotently), stale files, and a runroot that is private vs shared.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createNetns, deleteNetns, listNetns, listStaleNetns, netnsExists, netnsPath, nsenterArgs } from "../../src/network/netns.js";
import { berthError } from "../helpers/errors.js";

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });
const mountsUnder = (dir: string) =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => (l.split(" ")[4] ?? "").startsWith(dir + "/") || l.split(" ")[4] === dir);
const sfx = randomBytes(3).toString("hex");

describe("net: named netns under the runroot", () => {
  const roots: string[] = [];
  const boundDirs: string[] = [];
  const children: ChildProcess[] = [];
  let runroot = "";

  before(() => {
    assert.equal(process.getuid?.(), 0, "these tests need root (make test runs them as root)");
    runroot = mkdtempSync(join(tmpdir(), "berth-netns-"));
    roots.push(runroot);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    for (const r of roots) {
      for (const n of await listNetns(r).catch(() => [])) await deleteNetns(r, n).catch(() => undefined);
      for (const m of mountsUnder(r).reverse()) sh("umount", ["-l", m.split(" ")[4]!]);
    }
    for (const d of boundDirs) sh("umount", ["-l", d]);
    for (const r of roots) rmSync(r, { recursive: true, force: true });
    for (const r of roots) assert.deepEqual(mountsUnder(r), [], `mounts left under ${r}`);
  });

  it("works in a runroot that is not a shared mount", async () => {
    const prop = sh("findmnt", ["-n", "-o", "PROPAGATION", "-T", runroot]).stdout.trim();
    assert.doesNotMatch(prop, /shared/, `precondition: ${runroot} should not be on a shared mount (${prop})`);
    const name = `t${sfx}a`;
    const path = await createNetns(runroot, name);
    assert.equal(path, join(runroot, "netns", name));
    assert.equal(path, netnsPath(runroot, name));
    assert.equal(await netnsExists(runroot, name), true);
    assert.deepEqual(await listNetns(runroot), [name]);
    assert.equal(statSync(path).dev, statSync("/proc/self/ns/net").dev, "an nsfs file is bound on it");
    assert.notEqual(statSync(path).ino, statSync("/proc/self/ns/net").ino, "and it is not the host's netns");
    const [cmd, ...args] = nsenterArgs(path, ["ip", "-j", "link"]);
    const r = sh(cmd!, args);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname), ["lo"]);

    await assert.rejects(createNetns(runroot, name), berthError("ALREADY_EXISTS", /already exists/));
    await deleteNetns(runroot, name);
    assert.equal(await netnsExists(runroot, name), false);
    assert.deepEqual(await listNetns(runroot), []);
    assert.deepEqual(mountsUnder(runroot), []);
    await deleteNetns(runroot, name); // idempotent
    const empty = mkdtempSync(join(tmpdir(), "berth-netns-empty-"));
    roots.push(empty);
    await deleteNetns(empty, "nothing"); // no netns dir at all
  });

  it("refuses bad names with a clear error", async () => {
    for (const bad of ["", "../x", "a/b", ".hidden", "-x", "x".repeat(129)]) {
      await assert.rejects(createNetns(runroot, bad), berthError("INVALID_ARGUMENT", /invalid netns name/));
    }
  });

  it("deletes while a process is still inside; the process keeps its namespace", async () => {
    const name = `t${sfx}b`;
    const path = await createNetns(runroot, name);
    const [cmd, ...args] = nsenterArgs(path, ["sleep", "30"]);
    const child = spawn(cmd!, args, { stdio: "ignore" });
    children.push(child);
    await new Promise((res) => setTimeout(res, 150));
    assert.equal(child.exitCode, null, "sleep runs inside");
    await deleteNetns(runroot, name);
    assert.equal(await netnsExists(runroot, name), false);
    assert.deepEqual(mountsUnder(runroot), []);
    assert.equal(child.exitCode, null, "the process is untouched");
    child.kill("SIGKILL");
  });

  it("stale files (no namespace bound) are listed apart, block create, and are removed by delete", async () => {
    const name = `t${sfx}c`;
    await createNetns(runroot, `t${sfx}d`);
    writeFileSync(join(runroot, "netns", name), "");
    assert.deepEqual(await listNetns(runroot), [`t${sfx}d`]);
    assert.deepEqual(await listStaleNetns(runroot), [name]);
    await assert.rejects(createNetns(runroot, name), berthError("ALREADY_EXISTS", /stale/));
    await deleteNetns(runroot, name);
    assert.deepEqual(await listStaleNetns(runroot), []);
    await deleteNetns(runroot, `t${sfx}d`);
  });

  it("also works when the runroot is a shared mount", async () => {
    const shared = mkdtempSync(join(tmpdir(), "berth-netns-shared-"));
    roots.push(shared);
    for (const a of [["--bind", shared, shared], ["--make-shared", shared]]) {
      const r = sh("mount", a);
      assert.equal(r.status, 0, r.stderr);
    }
    boundDirs.push(shared);
    assert.match(sh("findmnt", ["-n", "-o", "PROPAGATION", shared]).stdout, /shared/);
    const name = `t${sfx}e`;
    const path = await createNetns(shared, name);
    const r = sh("nsenter", [`--net=${path}`, "ip", "-br", "link"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await listNetns(shared), [name]);
    await deleteNetns(shared, name);
    assert.deepEqual(await listNetns(shared), []);
    assert.deepEqual(mountsUnder(shared).length, 1, "only the test's own bind of the directory remains");
  });
});
