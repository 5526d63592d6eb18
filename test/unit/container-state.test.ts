import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ContainerStore, type ContainerRecord } from "../../src/container/store.js";
import { humanDuration, reconcile, restartDecision, statusText, LOST_EXIT_CODE, type Observation } from "../../src/container/status.js";
import { openDb } from "../../src/store/db.js";
import { parseLogLine, tailRecords, toSeconds } from "../../src/runtime/logs.js";
import { execFailureCode, runtimeMessage } from "../../src/runtime/oci-runtime.js";
import { capsOfMask, parseLimits, subIdRange } from "../../src/runtime/host-facts.js";
import { berthError } from "../helpers/errors.js";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function store(): ContainerStore {
  const d = mkdtempSync(join(tmpdir(), "berth-unit-"));
  dirs.push(d);
  return new ContainerStore(openDb(d));
}
const base = { imageId: "sha256:" + "a".repeat(64), imageName: "busybox", options: { image: "busybox" }, runtime: "/usr/bin/runc", created: 1 };

function rec(over: Partial<ContainerRecord>): ContainerRecord {
  return {
    id: "c".repeat(64), name: "n", imageId: "i", imageName: "busybox", options: { image: "busybox" }, runtime: "/usr/bin/runc", created: 0,
    state: "running", pid: 10, conmonPid: 9, bootId: "b", exitCode: 0, oomKilled: false, error: "", startedAt: 1000, finishedAt: 0,
    restartCount: 0, stoppedByUser: false, monitorPid: 0, ...over,
  };
}
const seen = (o: Partial<Observation>): Observation => ({ conmonAlive: false, monitorAlive: false, rebooted: false, ...o });

test("store: names are unique, refs resolve by ID, name and unique prefix", () => {
  const s = store();
  const a = s.insert({ ...base, name: "web" });
  assert.equal(a.state, "created");
  assert.match(a.id, /^[0-9a-f]{64}$/);
  assert.throws(() => s.insert({ ...base, name: "web" }), berthError("CONFLICT", /"web" is already in use/));
  assert.throws(() => s.insert({ ...base, name: "bad name" }), berthError("INVALID_ARGUMENT", /invalid container name/));
  const b = s.insert(base);
  assert.match(b.name, /^[a-z]+_[a-z]+_\d+$/);
  assert.equal(s.resolve("web").id, a.id);
  assert.equal(s.resolve(a.id.slice(0, 12)).id, a.id);
  assert.equal(s.resolve(a.id).name, "web");
  assert.throws(() => s.resolve("nope"), berthError("NOT_FOUND", /no such container: nope/));
  s.rename(a.id, "web2");
  assert.throws(() => s.rename(b.id, "web2"), berthError("CONFLICT"));
  assert.equal(s.list().length, 2);
  assert.deepEqual([...s.imageIds()], [base.imageId]);
  s.delete(a.id);
  assert.throws(() => s.resolve("web2"), berthError("NOT_FOUND"));
});

test("store: a state transition happens once among racing actors", () => {
  const s = store();
  const a = s.insert(base);
  s.update(a.id, { state: "running", pid: 5, options: { image: "busybox", tty: true }, stoppedByUser: true });
  const r = s.get(a.id)!;
  assert.equal(r.pid, 5);
  assert.equal(r.options.tty, true);
  assert.equal(r.stoppedByUser, true);
  assert.equal(s.transition(a.id, ["running"], { state: "exited", exitCode: 3 }), true);
  assert.equal(s.transition(a.id, ["running"], { state: "exited", exitCode: 4 }), false);
  assert.equal(s.get(a.id)!.exitCode, 3);
});

test("reconcile: exit file, live monitor, killed monitor, reboot", () => {
  assert.deepEqual(reconcile(rec({ state: "created" }), seen({}), 5), { state: "created" });
  assert.deepEqual(reconcile(rec({}), seen({ conmonAlive: true }), 5), { state: "running" });
  assert.deepEqual(reconcile(rec({ state: "paused" }), seen({ conmonAlive: true }), 5), { state: "paused" });
  const ex = reconcile(rec({}), seen({ exitCode: 3, exitedAt: 4000, oom: true }), 5000);
  assert.deepEqual(ex, { state: "exited", exited: { exitCode: 3, finishedAt: 4000, oomKilled: true, error: "" } });
  // conmon killed, the container still runs: the runtime is the truth.
  assert.deepEqual(reconcile(rec({}), seen({ runtime: "running" }), 5), { state: "running" });
  const lost = reconcile(rec({}), seen({ runtime: null }), 5);
  assert.equal(lost.state, "exited");
  assert.equal(lost.exited?.exitCode, LOST_EXIT_CODE);
  assert.match(lost.exited!.error, /conmon/);
  const boot = reconcile(rec({}), seen({ rebooted: true, conmonAlive: true }), 5);
  assert.match(boot.exited!.error, /rebooted/);
  // Still being started: the starting process is the monitor until conmon's pid is recorded.
  assert.deepEqual(reconcile(rec({ conmonPid: 0 }), seen({ monitorAlive: true }), 5), { state: "running" });
  assert.equal(reconcile(rec({ state: "restarting" }), seen({ monitorAlive: false }), 5).state, "exited");
  assert.equal(reconcile(rec({ state: "restarting" }), seen({ monitorAlive: true }), 5).state, "restarting");
});

test("restart policies follow Docker's rules with a doubling back-off", () => {
  const r = { restartCount: 0, stoppedByUser: false, startedAt: 0 };
  assert.equal(restartDecision(undefined, r, 1, 100).restart, false);
  assert.equal(restartDecision({ name: "no", maximumRetryCount: 0 }, r, 1, 100).restart, false);
  assert.equal(restartDecision({ name: "on-failure", maximumRetryCount: 0 }, r, 0, 100).restart, false);
  assert.deepEqual(restartDecision({ name: "on-failure", maximumRetryCount: 2 }, r, 1, 100), { restart: true, delayMs: 100 });
  assert.equal(restartDecision({ name: "on-failure", maximumRetryCount: 2 }, { ...r, restartCount: 2 }, 1, 100).restart, false);
  assert.deepEqual(restartDecision({ name: "always", maximumRetryCount: 0 }, { ...r, restartCount: 3 }, 0, 100), { restart: true, delayMs: 800 });
  assert.equal(restartDecision({ name: "always", maximumRetryCount: 0 }, { ...r, restartCount: 30 }, 0, 100).delayMs, 60_000);
  assert.equal(restartDecision({ name: "always", maximumRetryCount: 0 }, { ...r, restartCount: 5 }, 0, 20_000).delayMs, 100, "a long run resets the back-off");
  assert.equal(restartDecision({ name: "unless-stopped", maximumRetryCount: 0 }, { ...r, stoppedByUser: true }, 0, 100).restart, false);
});

test("ps status text reads like Docker's", () => {
  assert.equal(humanDuration(300), "Less than a second");
  assert.equal(humanDuration(1000), "1 second");
  assert.equal(humanDuration(45_000), "45 seconds");
  assert.equal(humanDuration(90_000), "About a minute");
  assert.equal(humanDuration(3 * 3600_000), "3 hours");
  assert.equal(statusText("created", rec({}), 0), "Created");
  assert.equal(statusText("running", rec({ startedAt: 0 }), 5000), "Up 5 seconds");
  assert.equal(statusText("paused", rec({ startedAt: 0 }), 5000), "Up 5 seconds (Paused)");
  assert.equal(statusText("exited", rec({ exitCode: 137, finishedAt: 1 }), 120_001), "Exited (137) 2 minutes ago");
});

test("k8s-file log records: parse, partial lines, tail by lines", () => {
  const r = parseLogLine("2024-01-02T03:04:05.123456789+00:00 stderr P half");
  assert.deepEqual({ ...r, seconds: undefined }, { time: "2024-01-02T03:04:05.123456789+00:00", seconds: undefined, stream: "stderr", partial: true, text: "half" });
  assert.equal(toSeconds("2024-01-02T03:04:05.5+00:00"), Date.UTC(2024, 0, 2, 3, 4, 5) / 1000 + 0.5);
  assert.equal(parseLogLine("garbage"), null);
  assert.equal(parseLogLine("2024-01-02T03:04:05Z stdout F ")!.text, "");
  const recs = ["a", "b1", "b2", "c"].map((t, i) => ({ time: "", seconds: i, stream: "stdout" as const, partial: t === "b1", text: t }));
  assert.deepEqual(tailRecords(recs, 2).map((x) => x.text), ["b1", "b2", "c"]);
  assert.deepEqual(tailRecords(recs, 0), []);
  assert.equal(tailRecords(recs, 10).length, 4);
});

test("runtime errors keep the useful clause and map exec failures to 126/127", () => {
  const m = runtimeMessage('time="x" level=error msg="runc create failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH"\n');
  assert.equal(m, 'exec: "nosuch": executable file not found in $PATH');
  assert.equal(execFailureCode(m), 127);
  assert.equal(execFailureCode('exec: "/etc": permission denied'), 126);
  assert.equal(execFailureCode("cgroup: no such controller"), undefined);
});

test("host facts: limits, capability masks and subordinate ids", () => {
  const limits = parseLimits("Limit Soft Limit Hard Limit Units\nMax open files            1024                 524288               files\nMax core file size        0                    unlimited            bytes\n");
  assert.deepEqual(limits, { nofile: 524288 });
  assert.deepEqual(capsOfMask("a80425fb").length, 14);
  assert.ok(capsOfMask("1fffeffffff").includes("CAP_SYS_ADMIN"));
  assert.ok(!capsOfMask("1fffeffffff").includes("CAP_SYS_RESOURCE"));
  assert.deepEqual(subIdRange("alice:100000:65536\ncontainers:200000:65536\n", ["containers", "root"]), { start: 200000, size: 65536 });
  assert.equal(subIdRange("", ["root"]), undefined);
});
