/**
 * Restart policies, applied by conmon's exit command, and `system boot` after a (simulated) reboot.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox, until } from "../helpers/containers.js";

const T = { timeout: 90_000 };

describe("containers: restart policies and boot", () => {
  let sb: ContainerSandbox;

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
  });

  const st = (ref: string) => {
    const [status, count] = sb.inspectF(ref, "{{.State.Status}} {{.RestartCount}}").split(" ");
    return { status: status!, count: Number(count) };
  };
  /** No conmon, exit command or runtime state of this container is left: nothing can restart it any more. */
  const settled = async (id: string) => (await sb.active(id)).length === 0;

  it("--restart on-failure:2 restarts a failing container twice, then leaves it exited", T, async () => {
    const id = sb.ok(["run", "-d", "--name", "of", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo ran; exit 1"]).trim();
    await until(async () => st("of").count === 2 && st("of").status === "exited" && (await settled(id)), { what: "two restarts, then exited" });
    assert.deepEqual(st("of"), { status: "exited", count: 2 });
    assert.equal(sb.inspectF("of", "{{.State.ExitCode}}"), "1");
    assert.equal(sb.ok(["logs", "of"]), "ran\nran\nran\n");
    sb.ok(["rm", "of"]);
  });

  it("--restart on-failure does not restart a container that exits 0", T, async () => {
    const id = sb.ok(["run", "-d", "--name", "of0", "--restart", "on-failure", "busybox", "true"]).trim();
    await until(async () => st("of0").status === "exited" && (await settled(id)), { what: "of0 to exit" });
    assert.deepEqual(st("of0"), { status: "exited", count: 0 });
    sb.ok(["rm", "of0"]);
  });

  it("--restart no does not restart", T, async () => {
    const id = sb.ok(["run", "-d", "--name", "no", "--restart", "no", "busybox", "sh", "-c", "exit 1"]).trim();
    await until(async () => st("no").status === "exited" && (await settled(id)), { what: "the container to exit" });
    assert.deepEqual(st("no"), { status: "exited", count: 0 });
    assert.equal(sb.inspectF("no", "{{.State.ExitCode}}"), "1");
    sb.ok(["rm", "no"]);
  });

  it("--restart always restarts even on exit 0, until stop", T, async () => {
    const id = sb.ok(["run", "-d", "--name", "al", "--restart", "always", "busybox", "true"]).trim();
    await until(() => st("al").count >= 2, { what: "two restarts" });
    sb.ok(["stop", "al"]);
    const stopped = st("al");
    assert.equal(stopped.status, "exited");
    await until(() => settled(id), { what: "no monitor or exit command of the stopped container" });
    assert.deepEqual(st("al"), stopped, "restarted after stop");
    assert.match(sb.ok(["ps", "-a", "--filter", "name=al", "--format", "{{.Status}}"]), /^Exited \(0\)/);
    sb.ok(["rm", "al"]);
  });

  it("system boot after a reboot starts always and unless-stopped containers, not stopped or no-policy ones", T, async () => {
    const ids: Record<string, string> = {};
    for (const [n, pol] of [["us", "unless-stopped"], ["alw", "always"], ["uss", "unless-stopped"], ["nop", "no"]] as const) {
      ids[n] = sb.ok(["run", "-d", "--name", n, "--restart", pol, "busybox", "sleep", "300"]).trim();
    }
    sb.ok(["stop", "-t", "0", "uss"]);
    // The reboot: monitors and containers die without a word, mounts and cgroups vanish, the runroot is a new tmpfs.
    for (const n of ["us", "alw", "nop"]) {
      const id = ids[n]!;
      const pid = Number(sb.inspectF(n, "{{.State.Pid}}"));
      const conmon = Number(readFileSync(join(sb.runroot, "containers", id, "conmon.pid"), "utf8").trim());
      process.kill(conmon, "SIGKILL");
      process.kill(pid, "SIGKILL");
    }
    for (const n of ["us", "alw", "nop"]) {
      const dirs = sb.cgroupDirs([ids[n]!]);
      await until(() => dirs.every((d) => readFileSync(join(d, "cgroup.procs"), "utf8") === ""), { what: `the processes of ${n} to die` });
      for (const d of dirs) spawnSync("rmdir", [d]);
      spawnSync("umount", ["-l", join(sb.root, "containers", ids[n]!, "merged")]);
    }
    for (const e of readdirSync(sb.runroot)) rmSync(join(sb.runroot, e), { recursive: true, force: true });

    const states = () => sb.ok(["ps", "-a", "--format", "{{.Names}} {{.State}}"]).split("\n").filter(Boolean).sort();
    assert.deepEqual(states(), ["alw exited", "nop exited", "us exited", "uss exited"]);
    assert.equal(sb.inspectF("us", "{{.State.Status}} {{.State.Running}} {{.State.Pid}}"), "exited false 0");

    const started = sb.ok(["system", "boot"]).split("\n").filter(Boolean).sort();
    assert.deepEqual(started, [ids.alw, ids.us].sort());
    assert.deepEqual(states(), ["alw running", "nop exited", "us running", "uss exited"]);
    const pid = Number(sb.inspectF("us", "{{.State.Pid}}"));
    assert.match(readFileSync(`/proc/${pid}/cmdline`, "utf8"), /^sleep\x00300\x00$/);
    // A second boot finds nothing to do.
    assert.equal(sb.ok(["system", "boot"]), "");
    sb.ok(["rm", "-f", "us", "alw", "uss", "nop"]);
    assert.deepEqual(await sb.leftovers(Object.values(ids)), []);
  });

  it("leaves nothing behind", T, async () => {
    sb.run(["rm", "-af"]);
    assert.deepEqual(sb.containerIds(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
