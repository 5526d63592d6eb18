/**
 * The launcher shell (src/runtime/launcher.ts): run() through it must behave exactly as a direct spawn,
 * for any argument a shell could misread, with input, concurrent jobs and missing binaries.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { describe, it } from "node:test";
import { run, withLauncher } from "../../src/runtime/exec-file.js";
import { Launcher } from "../../src/runtime/launcher.js";

const TRICKY = ["a b", "it's", '"q"', "$HOME", "`id`", "$(id)", "back\\slash", "*", "", "-n", ";", "&", "|", "x\ty", "é"];

describe("launcher: run() through a shell", () => {
  it("passes every argument through untouched, with stdout, stderr and the exit status apart", async () => {
    const l = new Launcher();
    try {
      const r = await l.run("sh", ["-c", 'for a; do printf "<%s>" "$a"; done; echo err >&2; exit 3', "sh", ...TRICKY]);
      assert.equal(r.stdout, TRICKY.map((a) => `<${a}>`).join(""));
      assert.equal(r.stderr, "err\n");
      assert.equal(r.code, 3);
    } finally {
      await l.close();
    }
  });

  it("feeds input on stdin, and jobs run at once each get their own result", async () => {
    const l = new Launcher();
    try {
      const jobs = Array.from({ length: 40 }, (_, i) => l.run("sh", ["-c", `cat; sleep 0.0${i % 5}; exit ${i % 7}`], `job ${i}\n`));
      const results = await Promise.all(jobs);
      results.forEach((r, i) => {
        assert.equal(r.stdout, `job ${i}\n`);
        assert.equal(r.code, i % 7);
      });
    } finally {
      await l.close();
    }
  });

  it("reports a missing binary as spawn does (ENOENT), and refuses arguments with a newline", async () => {
    const l = new Launcher();
    try {
      await assert.rejects(l.run("berth-no-such-binary", ["x"]), (e: NodeJS.ErrnoException) => e.code === "ENOENT");
      assert.equal(l.accepts("echo", ["a\nb"]), false);
      assert.equal(l.accepts("echo", ["a b"]), true);
    } finally {
      await l.close();
    }
  });

  it("removes the job dirs of dead berth processes, not of live ones", async () => {
    const dead = mkdtempSync("/dev/shm/berth-launch-999999999-");
    const live = mkdtempSync(`/dev/shm/berth-launch-${process.ppid}-`);
    const l = new Launcher();
    try {
      assert.equal(existsSync(dead), false);
      assert.equal(existsSync(live), true);
    } finally {
      await l.close();
      rmSync(live, { recursive: true, force: true });
    }
  });

  it("withLauncher routes run() through one shell and removes its files at the end", async () => {
    const before = new Set(readdirSync("/dev/shm").filter((f) => f.startsWith("berth-launch-")));
    let dir = "";
    const r = await withLauncher(async () => {
      const made = readdirSync("/dev/shm").filter((f) => f.startsWith("berth-launch-") && !before.has(f));
      assert.equal(made.length, 1, "one launcher for the block");
      dir = `/dev/shm/${made[0]}`;
      // Nested use shares the same shell: each job runs in a subshell of it, so the job's grandparent.
      const shell = ["-c", "cut -d ' ' -f4 /proc/$PPID/stat"];
      const inner = await withLauncher(() => run("sh", shell));
      const outer = await run("sh", shell);
      assert.equal(inner.stdout, outer.stdout, "both jobs come from one shell");
      assert.equal(inner.code, 0, inner.stderr);
      return run("cat", [], { input: "in\n" });
    });
    assert.equal(r.stdout, "in\n");
    assert.equal(existsSync(dir), false);
    // Outside the block, run() spawns directly again.
    assert.equal((await run("sh", ["-c", "echo $PPID"])).stdout.trim(), String(process.pid));
  });
});
