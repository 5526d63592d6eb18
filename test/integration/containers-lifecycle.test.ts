/**
 * A container's life after `run -d`: logs, exec, top/stats, stop and kill with their signals, pause,
 * --init, a killed monitor, and many containers at once.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ContainerSandbox, until } from "../helpers/containers.js";

const T = { timeout: 90_000 };
const LOOP = "while :; do sleep 0.1; done";

describe("containers: lifecycle", () => {
  let sb: ContainerSandbox;

  before(async () => {
    sb = await ContainerSandbox.create({ images: [{ name: "stopsig:latest", config: { StopSignal: "SIGUSR2" } }] });
  });

  after(async () => {
    await sb?.cleanupAsync();
  });

  const state = (ref: string) => sb.inspectF(ref, "{{.State.Status}}");
  const exitCode = (ref: string) => Number(sb.inspectF(ref, "{{.State.ExitCode}}"));

  it("logs keeps stdout and stderr apart; --tail, -t and -f", T, async () => {
    sb.ok(["run", "-d", "--name", "lg", "busybox", "sh", "-c", "echo out1; echo err1 >&2; echo out2"]);
    assert.equal(sb.ok(["wait", "lg"]).trim(), "0");
    const r = sb.run(["logs", "lg"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "out1\nout2\n");
    assert.equal(r.stderr, "err1\n");

    // -f started while the container runs returns once it exits, with all of its output.
    sb.ok(["run", "-d", "--name", "lf", "busybox", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done"]);
    const f = await sb.runLimited(["logs", "-f", "lf"], 60_000);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout, "line1\nline2\nline3\n");
    assert.equal(state("lf"), "exited");
    assert.equal(sb.ok(["logs", "--tail", "1", "lf"]), "line3\n");
    assert.equal(sb.ok(["logs", "--tail", "2", "lf"]), "line2\nline3\n");
    const ts = sb.ok(["logs", "-t", "lf"]).split("\n").filter(Boolean);
    assert.equal(ts.length, 3);
    ts.forEach((l, i) => assert.match(l, new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2}) line${i + 1}$`)));
    sb.ok(["rm", "lg", "lf"]);
  });

  it("exec runs commands in the container with -e, -u, -w, -d and its exit code", T, async () => {
    const id = sb.ok(["run", "-d", "--name", "ex", "busybox", "sleep", "300"]).trim();
    assert.equal(sb.ok(["exec", "ex", "echo", "hi"]), "hi\n");
    assert.equal(sb.ok(["exec", "ex", "hostname"]), `${id.slice(0, 12)}\n`);
    assert.equal(sb.run(["exec", "ex", "sh", "-c", "exit 3"]).code, 3);
    assert.equal(sb.ok(["exec", "-e", "A=b", "ex", "sh", "-c", "echo $A"]), "b\n");
    assert.equal(sb.ok(["exec", "-u", "nobody", "ex", "id", "-u"]), "65534\n");
    assert.equal(sb.ok(["exec", "-w", "/tmp", "ex", "pwd"]), "/tmp\n");
    const nf = sb.run(["exec", "ex", "no-such-command"]);
    assert.equal(nf.code, 127, nf.stderr);
    assert.match(nf.stderr, /no-such-command/);
    assert.equal(sb.ok(["exec", "-d", "ex", "sh", "-c", "sleep 0.2; echo done > /tmp/d"]), "");
    await until(() => sb.run(["exec", "ex", "cat", "/tmp/d"]).stdout === "done\n", { what: "the detached exec to write /tmp/d" });
    // exec into a stopped container is refused.
    sb.ok(["stop", "-t", "0", "ex"]);
    const stopped = sb.run(["exec", "ex", "true"]);
    assert.equal(stopped.code, 125);
    assert.match(stopped.stderr, /not running/);
    sb.ok(["rm", "ex"]);
  });

  it("top lists the container's processes; stats reports memory and pids", T, () => {
    sb.ok(["run", "-d", "--name", "ts", "busybox", "sh", "-c", "sleep 301 & sleep 302"]);
    const top = sb.ok(["top", "ts"]);
    assert.match(top.split("\n")[0]!, /PID/);
    assert.match(top, /sleep 301/);
    assert.match(top, /sleep 302/);
    const [s] = JSON.parse(sb.ok(["stats", "--no-stream", "--format", "json", "ts"])) as { Name: string; MemUsage: number; PIDs: number }[];
    assert.equal(s!.Name, "ts");
    assert.ok(s!.MemUsage > 0, `MemUsage ${s!.MemUsage}`);
    // sh execs its last command: two sleeps.
    assert.ok(s!.PIDs >= 2, `PIDs ${s!.PIDs}`);
    sb.ok(["rm", "-f", "ts"]);
  });

  it("stop: TERM ignored -> KILL after -t (137); a TERM trap that exits 0 -> 0", T, () => {
    sb.ok(["run", "-d", "--name", "deaf", "busybox", "sh", "-c", `trap "" TERM; ${LOOP}`]);
    sb.ok(["run", "-d", "--name", "polite", "busybox", "sh", "-c", `trap "exit 0" TERM; ${LOOP}`]);
    sb.ok(["stop", "-t", "1", "deaf"]);
    assert.equal(state("deaf"), "exited");
    assert.equal(exitCode("deaf"), 137);
    sb.ok(["stop", "polite"]);
    assert.equal(state("polite"), "exited");
    assert.equal(exitCode("polite"), 0);
    sb.ok(["rm", "deaf", "polite"]);
  });

  it("stop sends --stop-signal, else the image's StopSignal", T, () => {
    sb.ok(["run", "-d", "--name", "usr1", "--stop-signal", "USR1", "busybox", "sh", "-c", `trap "echo got-usr1; exit 3" USR1; trap "echo got-term; exit 4" TERM; ${LOOP}`]);
    sb.ok(["run", "-d", "--name", "usr2", "stopsig", "sh", "-c", `trap "echo got-usr2; exit 5" USR2; trap "echo got-term; exit 4" TERM; ${LOOP}`]);
    assert.equal(sb.inspectF("usr2", "{{.Config.StopSignal}}"), "SIGUSR2");
    sb.ok(["stop", "usr1"]);
    sb.ok(["stop", "usr2"]);
    assert.equal(exitCode("usr1"), 3);
    assert.equal(sb.ok(["logs", "usr1"]), "got-usr1\n");
    assert.equal(exitCode("usr2"), 5);
    assert.equal(sb.ok(["logs", "usr2"]), "got-usr2\n");
    sb.ok(["rm", "usr1", "usr2"]);
  });

  it("kill -s delivers a signal to a trap; kill ends it with 137", T, async () => {
    sb.ok(["run", "-d", "--name", "k", "busybox", "sh", "-c", `trap "echo got-usr1" USR1; ${LOOP}`]);
    sb.ok(["kill", "-s", "USR1", "k"]);
    await until(() => sb.ok(["logs", "k"]) === "got-usr1\n", { what: "the USR1 trap to run" });
    assert.equal(state("k"), "running");
    sb.ok(["kill", "k"]);
    await until(() => state("k") === "exited", { what: "the killed container to exit" });
    assert.equal(exitCode("k"), 137);
    const again = sb.run(["kill", "k"]);
    assert.equal(again.code, 125);
    assert.match(again.stderr, /not running/);
    sb.ok(["rm", "k"]);
  });

  it("pause freezes the container and unpause resumes it", T, async () => {
    sb.ok(["run", "-d", "--name", "p", "busybox", "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done"]);
    const lines = () => sb.ok(["logs", "p"]).split("\n").filter(Boolean).length;
    await until(() => lines() > 2, { what: "the counter to start" });
    sb.ok(["pause", "p"]);
    assert.equal(state("p"), "paused");
    assert.equal(sb.inspectF("p", "{{.State.Paused}} {{.State.Running}}"), "true true");
    assert.match(sb.ok(["ps", "--filter", "name=p", "--format", "{{.Status}}"]), /\(Paused\)/);
    const frozen = lines();
    await sleep(500);
    assert.equal(lines(), frozen, "the counter advanced while paused");
    const ex = sb.run(["exec", "p", "true"]);
    assert.equal(ex.code, 125);
    assert.match(ex.stderr, /paused/);
    sb.ok(["unpause", "p"]);
    assert.equal(state("p"), "running");
    await until(() => lines() > frozen, { what: "the counter to advance after unpause" });
    sb.ok(["rm", "-f", "p"]);
  });

  it("--init runs catatonit as PID 1, which reaps orphans and forwards the stop signal", T, async () => {
    // The subshell exits at once, so its sleep is orphaned to PID 1 and must be reaped when it ends.
    const orphans = '(sleep 0.2 &); (sleep 0.3 &); trap "exit 0" TERM; while :; do sleep 0.1; done';
    sb.ok(["run", "-d", "--init", "--name", "ini", "busybox", "sh", "-c", orphans]);
    // PID 1 is the host's catatonit (bind-mounted under another name), the command its child.
    const hostSum = createHash("md5").update(readFileSync("/usr/bin/catatonit")).digest("hex");
    assert.equal(sb.ok(["exec", "ini", "md5sum", "/proc/1/exe"]).split(/\s+/)[0], hostSum);
    assert.match(sb.ok(["exec", "ini", "cat", "/proc/1/cmdline"]), /\x00--\x00sh\x00-c\x00/);
    // Without --init nothing reaps orphans of a PID 1 that never waits: the same check sees a zombie there.
    sb.ok(["run", "-d", "--name", "noini", "busybox", "sh", "-c", "(sleep 0.2 &); exec sleep 300"]);
    const zombies = (ref: string) => sb.ok(["exec", ref, "ps", "-o", "pid,stat,comm"]).split("\n").filter((l) => /^\s*\d+\s+Z/.test(l));
    await until(() => zombies("noini").length > 0, { what: "an unreaped orphan in the container without --init" });
    await sleep(400); // the orphans of "ini" have ended by now
    assert.deepEqual(zombies("ini"), []);
    sb.ok(["stop", "ini"]);
    assert.equal(exitCode("ini"), 0);
    sb.ok(["rm", "-f", "ini", "noini"]);
  });

  it("after conmon is killed, ps and inspect still tell the truth and rm -f cleans up", T, async () => {
    const monitored = (ref: string) => {
      const id = sb.inspectF(ref, "{{.Id}}");
      return Number(readFileSync(join(sb.runroot, "containers", id, "conmon.pid"), "utf8").trim());
    };
    sb.ok(["run", "-d", "--name", "orph", "busybox", "sleep", "300"]);
    sb.ok(["run", "-d", "--name", "orph2", "busybox", "sleep", "300"]);
    const pid = Number(sb.inspectF("orph", "{{.State.Pid}}"));
    const ids = ["orph", "orph2"].map((n) => sb.inspectF(n, "{{.Id}}"));
    for (const n of ["orph", "orph2"]) process.kill(monitored(n), "SIGKILL");
    // The container outlives its monitor: still running, same pid.
    await sleep(200);
    assert.equal(sb.inspectF("orph", "{{.State.Status}} {{.State.Pid}}"), `running ${pid}`);
    assert.match(sb.ok(["ps", "--filter", "name=orph", "--format", "{{.Names}} {{.State}}"]), /^orph running$/m);
    // Killing the process too: exited, as the runtime says.
    process.kill(pid, "SIGKILL");
    await until(() => state("orph") === "exited", { what: "orph to be seen as exited" });
    assert.match(sb.ok(["ps", "-a", "--filter", "name=orph", "--format", "{{.Names}} {{.State}}"]), /^orph exited$/m);
    assert.equal(state("orph2"), "running");
    const rmo = sb.run(["rm", "-f", "orph", "orph2"]);
    assert.equal(rmo.code, 0, rmo.stderr);
    assert.equal(rmo.stdout, "orph\norph2\n");
    assert.deepEqual(sb.containerIds().filter((id) => ids.includes(id)), []);
    assert.deepEqual(await sb.leftovers(ids), []);
  });

  it("20 parallel run -d all start, and rm -f removes them all", T, async () => {
    const names = Array.from({ length: 20 }, (_, i) => `par${i}`);
    const runs = await Promise.all(names.map((n) => sb.runAsync(["run", "-d", "--name", n, "busybox", "sleep", "300"])));
    runs.forEach((r, i) => assert.equal(r.code, 0, `${names[i]}: ${r.stderr}`));
    const ids = runs.map((r) => r.stdout.trim());
    assert.equal(new Set(ids).size, 20);
    assert.deepEqual(sb.ok(["ps", "-q", "--no-trunc", "--filter", "name=par"]).split("\n").filter(Boolean).sort(), [...ids].sort());
    const rm = sb.run(["rm", "-f", ...names]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual(sb.containerIds().filter((id) => ids.includes(id)), []);
    assert.deepEqual(await sb.leftovers(ids), []);
  });

  it("leaves nothing behind", T, async () => {
    sb.run(["rm", "-af"]);
    assert.deepEqual(sb.containerIds(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
