import assert from "node:assert/strict";
import { test } from "node:test";
import { ALL_CAPABILITIES, capabilitySet, capMask, DEFAULT_CAPABILITIES, normalizeCapability } from "../../src/core/spec/capabilities.js";
import { parseSignal, signalName } from "../../src/core/spec/signals.js";
import { berthError } from "../helpers/errors.js";

test("capability table: 41 names, numbers as in linux/capability.h", () => {
  assert.equal(ALL_CAPABILITIES.length, 41);
  assert.equal(ALL_CAPABILITIES[0], "CAP_CHOWN");
  assert.equal(ALL_CAPABILITIES[21], "CAP_SYS_ADMIN");
  assert.equal(ALL_CAPABILITIES[12], "CAP_NET_ADMIN");
  assert.equal(ALL_CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
  assert.equal(new Set(ALL_CAPABILITIES).size, 41);
});

test("Docker's default set is CapEff 0xa80425fb", () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.equal(capMask(DEFAULT_CAPABILITIES), 0xa80425fbn);
  assert.equal(capMask(capabilitySet({}, 40)), 0xa80425fbn);
});

test("normalizeCapability accepts any case, with or without CAP_, and ALL", () => {
  assert.equal(normalizeCapability("net_admin"), "CAP_NET_ADMIN");
  assert.equal(normalizeCapability("NET_ADMIN"), "CAP_NET_ADMIN");
  assert.equal(normalizeCapability("Cap_Net_Admin"), "CAP_NET_ADMIN");
  assert.equal(normalizeCapability("all"), "ALL");
  assert.throws(() => normalizeCapability("FOO"), berthError("INVALID_ARGUMENT", /FOO/));
});

test("cap-add / cap-drop arithmetic", () => {
  const add = capabilitySet({ capAdd: ["NET_ADMIN", "cap_sys_admin"] }, 40);
  assert.equal(capMask(add), 0xa80425fbn | (1n << 12n) | (1n << 21n));
  const drop = capabilitySet({ capDrop: ["CHOWN", "net_raw"] }, 40);
  assert.equal(capMask(drop), 0xa80425fbn & ~1n & ~(1n << 13n));
  // An add beats a drop of the same name (Docker: drop from the defaults, then add).
  assert.ok(capabilitySet({ capAdd: ["CHOWN"], capDrop: ["CHOWN"] }, 40).includes("CAP_CHOWN"));
  // Ordered by number, no duplicates.
  const s = capabilitySet({ capAdd: ["NET_ADMIN", "NET_ADMIN", "CHOWN"] }, 40);
  assert.deepEqual(s, [...new Set(s)]);
  assert.deepEqual(s, [...s].sort((a, b) => ALL_CAPABILITIES.indexOf(a) - ALL_CAPABILITIES.indexOf(b)));
});

test("cap-drop ALL keeps only the added ones; cap-add ALL keeps all but the dropped ones", () => {
  assert.deepEqual(capabilitySet({ capDrop: ["ALL"] }, 40), []);
  assert.deepEqual(capabilitySet({ capDrop: ["all"], capAdd: ["NET_BIND_SERVICE", "kill"] }, 40), ["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
  const all = capabilitySet({ capAdd: ["ALL"] }, 40);
  assert.equal(all.length, 41);
  assert.equal(capMask(all), (1n << 41n) - 1n);
  const allButAdmin = capabilitySet({ capAdd: ["ALL"], capDrop: ["SYS_ADMIN"] }, 40);
  assert.equal(allButAdmin.length, 40);
  assert.ok(!allButAdmin.includes("CAP_SYS_ADMIN"));
});

test("privileged gets every capability up to cap_last_cap; the set is capped there", () => {
  assert.equal(capabilitySet({ privileged: true }, 40).length, 41);
  assert.equal(capabilitySet({ privileged: true }, 37).length, 38);
  assert.ok(!capabilitySet({ privileged: true }, 37).includes("CAP_PERFMON"));
  assert.ok(!capabilitySet({ capAdd: ["BPF"] }, 38).includes("CAP_BPF"));
  assert.ok(capabilitySet({ capAdd: ["BPF"] }, 39).includes("CAP_BPF"));
});

test("unknown capabilities are INVALID_ARGUMENT naming the flag", () => {
  assert.throws(() => capabilitySet({ capAdd: ["FOO"] }, 40), berthError("INVALID_ARGUMENT", /^invalid --cap-add "FOO": unknown capability$/));
  assert.throws(() => capabilitySet({ capDrop: ["CAP_NOPE"] }, 40), berthError("INVALID_ARGUMENT", /--cap-drop "CAP_NOPE"/));
});

test("parseSignal accepts names, short names, any case, numbers and real-time offsets", () => {
  assert.equal(parseSignal("SIGTERM"), 15);
  assert.equal(parseSignal("TERM"), 15);
  assert.equal(parseSignal("term"), 15);
  assert.equal(parseSignal("15"), 15);
  assert.equal(parseSignal(15), 15);
  assert.equal(parseSignal("SIGKILL"), 9);
  assert.equal(parseSignal("sigusr1"), 10);
  assert.equal(parseSignal("SIGCHLD"), 17);
  assert.equal(parseSignal("WINCH"), 28);
  assert.equal(parseSignal("SIGIOT"), 6);
  assert.equal(parseSignal("SIGRTMIN"), 34);
  assert.equal(parseSignal("SIGRTMIN+3"), 37);
  assert.equal(parseSignal("RTMIN+3"), 37);
  assert.equal(parseSignal("rtmax-1"), 63);
  assert.equal(parseSignal("SIGRTMAX"), 64);
  for (const bad of ["", "SIGFOO", "0", 0, 65, "65", -1, "RTMIN+31", "RTMAX+1", "RTMIN-3", "1.5", 2.5]) {
    assert.throws(() => parseSignal(bad), berthError("INVALID_ARGUMENT", /^invalid signal "/), String(bad));
  }
});

test("signalName is the inverse", () => {
  assert.equal(signalName(15), "SIGTERM");
  assert.equal(signalName(9), "SIGKILL");
  assert.equal(signalName(31), "SIGSYS");
  assert.equal(signalName(34), "SIGRTMIN");
  assert.equal(signalName(32), "SIGRTMIN-2");
  assert.equal(signalName(37), "SIGRTMIN+3");
  assert.equal(signalName(64), "SIGRTMAX");
  for (let n = 1; n <= 64; n++) assert.equal(parseSignal(signalName(n)), n);
  assert.throws(() => signalName(0), berthError("INVALID_ARGUMENT"));
  assert.throws(() => signalName(65), berthError("INVALID_ARGUMENT"));
});

test("berth's own bounding set caps privileged and ALL; adding a capability berth lacks is an error", () => {
  const mine = ALL_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE");
  const priv = capabilitySet({ privileged: true }, 40, mine);
  assert.equal(priv.length, 40);
  assert.ok(!priv.includes("CAP_SYS_RESOURCE"));
  assert.ok(!capabilitySet({ capAdd: ["ALL"] }, 40, mine).includes("CAP_SYS_RESOURCE"));
  assert.equal(capMask(capabilitySet({}, 40, mine)), 0xa80425fbn);
  assert.throws(() => capabilitySet({ capAdd: ["sys_resource"] }, 40, mine), berthError("INVALID_ARGUMENT", /--cap-add "sys_resource": berth itself lacks CAP_SYS_RESOURCE/));
  // Above cap_last_cap stays a silent no-op (an older kernel simply has no such capability).
  assert.deepEqual(capabilitySet({ capDrop: ["ALL"], capAdd: ["BPF"] }, 38, mine), []);
});
