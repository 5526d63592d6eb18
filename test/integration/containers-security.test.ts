/**
 * The confinement of a container as its own process sees it: capabilities, seccomp, masked and read-only
 * /proc paths, resource limits (memory with OOM, pids).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 60_000 };

/** CapEff and Seccomp of the container's PID 1, from /proc/self/status. */
function status(out: string): { capEff: string; seccomp: string } {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(out)?.[1];
  const seccomp = /^Seccomp:\s*(\d)$/m.exec(out)?.[1];
  assert.ok(capEff && seccomp, `no CapEff/Seccomp in: ${out}`);
  return { capEff, seccomp };
}

const STATUS = ["busybox", "grep", "-E", "^(CapEff|Seccomp):", "/proc/self/status"];

describe("containers: security and limits", () => {
  let sb: ContainerSandbox;

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
  });

  it("has Docker's default capabilities and a seccomp filter", T, () => {
    const s = status(sb.ok(["run", "--rm", ...STATUS]));
    assert.equal(s.capEff, "00000000a80425fb");
    assert.equal(s.seccomp, "2");
  });

  it("--cap-drop ALL leaves none; --cap-add NET_ADMIN adds bit 12", T, () => {
    assert.equal(status(sb.ok(["run", "--rm", "--cap-drop", "ALL", ...STATUS])).capEff, "0000000000000000");
    const added = BigInt(`0x${status(sb.ok(["run", "--rm", "--cap-add", "NET_ADMIN", ...STATUS])).capEff}`);
    assert.equal(added, 0xa80425fbn | (1n << 12n));
  });

  it("--privileged has every capability the kernel knows and no seccomp; seccomp=unconfined drops only the filter", T, () => {
    // Every capability up to cap_last_cap that the host can grant: a capability missing from berth's own
    // bounding set (CAP_SYS_RESOURCE on this kind of VM) cannot be given to anyone.
    const last = BigInt(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
    const bnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]}`);
    const all = (((1n << (last + 1n)) - 1n) & bnd).toString(16).padStart(16, "0");
    const p = status(sb.ok(["run", "--rm", "--privileged", ...STATUS]));
    assert.equal(p.capEff, all);
    assert.equal(p.seccomp, "0");
    const u = status(sb.ok(["run", "--rm", "--security-opt", "seccomp=unconfined", ...STATUS]));
    assert.equal(u.seccomp, "0");
    assert.equal(u.capEff, "00000000a80425fb");
  });

  it("masks /proc/timer_list and /proc/kcore and keeps /proc/sys read-only", T, () => {
    const script = [
      'echo "timer_list=$(cat /proc/timer_list | wc -c)"',
      'if [ -e /proc/kcore ]; then echo "kcore=$(head -c 16 /proc/kcore | wc -c)"; else echo kcore=absent; fi',
      // Writing back the current value: harmless to the host even if the write were let through.
      'v=$(cat /proc/sys/kernel/panic); if echo "$v" > /proc/sys/kernel/panic; then echo sys=WRITABLE; else echo sys=ro; fi',
    ].join("; ");
    const r = sb.run(["run", "--rm", "busybox", "sh", "-c", script]);
    assert.equal(r.code, 0, r.stderr);
    // On the host timer_list has content, so an empty read inside means the mask works.
    assert.ok((readFileSync("/proc/timer_list", "utf8")).length > 0);
    // kcore: masked (reads empty) where the host has one; absent inside where the host has none.
    const kcore = existsSync("/proc/kcore") ? "kcore=0" : "kcore=absent";
    assert.equal(r.stdout, `timer_list=0\n${kcore}\nsys=ro\n`);
    assert.match(r.stderr, /Read-only file system/);
  });

  it("-m with --memory-swap equal: allocating past the limit is OOM-killed, exit 137, OOMKilled true", T, () => {
    // tail keeps the last lines of its input in memory: /dev/zero has no newline, so it grows without bound.
    const r = sb.run(["run", "--name", "oom", "-m", "16m", "--memory-swap", "16m", "busybox", "tail", "/dev/zero"]);
    assert.equal(r.code, 137, r.stderr);
    assert.equal(sb.inspectF("oom", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}"), "true 137 exited");
    assert.equal(sb.inspectF("oom", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"), `${16 << 20} ${16 << 20}`);
    sb.ok(["rm", "oom"]);
    // A container that stays under its limit is not OOMKilled.
    const ok = sb.run(["run", "--name", "fine", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c", "head -c 1000000 /dev/zero | wc -c"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(sb.inspectF("fine", "{{.State.OOMKilled}}"), "false");
    sb.ok(["rm", "fine"]);
  });

  it("--pids-limit 10 stops a fork bomb of 20 sleeps", T, () => {
    const script = "n=0; for i in $(seq 20); do sleep 30 & n=$((n+1)); done; echo started=$n; kill $(jobs -p) 2>/dev/null; exit 0";
    const r = sb.run(["run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c", script]);
    assert.match(r.stderr, /can't fork|Resource temporarily unavailable/);
    // The same script without the limit forks all 20.
    const free = sb.run(["run", "--rm", "busybox", "sh", "-c", script]);
    assert.equal(free.code, 0, free.stderr);
    assert.equal(free.stdout, "started=20\n");
    assert.doesNotMatch(free.stderr, /can't fork/);
  });

  it("leaves nothing behind", T, async () => {
    sb.run(["rm", "-af"]);
    assert.deepEqual(sb.containerIds(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
