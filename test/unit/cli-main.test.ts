import assert from "node:assert/strict";
import { test } from "node:test";
import { buildProgram, verbWords } from "../../src/cli/main.js";

const argv = (...a: string[]) => ["node", "berth", ...a];

test("the verb is found after global flags and their values", () => {
  assert.deepEqual(verbWords(argv("--root", "/r", "--runroot", "/rr", "run", "--rm", "busybox")), ["run"]);
  assert.deepEqual(verbWords(argv("container", "cleanup", "--run", "1", "id")), ["container", "cleanup"]);
  assert.deepEqual(verbWords(argv("--log-level", "debug", "image", "ls")), ["image", "ls"]);
  assert.deepEqual(verbWords(argv("--help")), []);
});

test("only the verb being run is built; help and unknown verbs get every command", () => {
  const names = (p: ReturnType<typeof buildProgram>) => p.commands.map((c) => c.name()).sort();
  assert.deepEqual(names(buildProgram(argv("--root", "/r", "run", "busybox"))), ["run"]);
  const container = buildProgram(argv("container", "ps", "-a")).commands.find((c) => c.name() === "container")!;
  assert.deepEqual(container.commands.map((c) => c.name()), ["ls"]);
  const full = names(buildProgram(argv("--help")));
  assert.ok(full.includes("run") && full.includes("pull") && full.includes("container") && full.length > 20);
  assert.deepEqual(names(buildProgram(argv("nosuch"))), full);
});
