/**
 * Failures of `run`: each is one clear line on stderr, Docker's exit code, and nothing left behind (no
 * container row, no dirs, no mounts, no runtime state).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 90_000 };

/** The host's hard limit on open files, or undefined when unlimited. */
function nofileHard(): number | undefined {
  const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return m && m[1] !== "unlimited" ? Number(m[1]) : undefined;
}

describe("containers: errors", () => {
  let sb: ContainerSandbox;

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
  });

  const dirs = () => readdirSync(join(sb.root, "containers")).sort();

  /** Run, expect failure with `code` and one line on stderr matching `msg`, and nothing new on the host. */
  async function fails(args: string[], code: number, msg: RegExp): Promise<void> {
    const rowsBefore = sb.containerIds();
    const dirsBefore = dirs();
    const r = await sb.runLimited(args, 60_000);
    assert.equal(r.code, code, `berth ${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "", `berth ${args.join(" ")}`);
    const lines = r.stderr.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, `one line on stderr for ${args.join(" ")}: ${r.stderr}`);
    assert.match(lines[0]!, msg);
    assert.deepEqual(sb.containerIds(), rowsBefore, `rows after ${args.join(" ")}`);
    assert.deepEqual(dirs(), dirsBefore, `dirs under root/containers after ${args.join(" ")}`);
    const fresh = [...sb.ids].filter((id) => !dirsBefore.includes(id));
    assert.deepEqual(await sb.leftovers(fresh), [], `leftovers of ${args.join(" ")}`);
  }

  it("a second container with a taken name fails with 125 and names it", T, async () => {
    sb.ok(["run", "-d", "--name", "x", "busybox", "sleep", "300"]);
    await fails(["run", "--name", "x", "busybox", "true"], 125, /"x".*(in use|already)|(in use|already).*"x"/);
    await fails(["create", "--name", "x", "busybox", "true"], 125, /"x"/);
    assert.equal(sb.inspectF("x", "{{.State.Status}}"), "running");
    sb.ok(["rm", "-f", "x"]);
  });

  it("bad flag values fail with 125 before anything is created", T, async () => {
    await fails(["run", "-m", "abc", "busybox", "true"], 125, /--memory.*abc|abc.*memory/i);
    await fails(["run", "--cpus", "-1", "busybox", "true"], 125, /--cpus/);
    await fails(["run", "--ulimit", "foo=1", "busybox", "true"], 125, /--ulimit.*foo/);
    const hard = nofileHard();
    if (hard !== undefined) await fails(["run", "--ulimit", `nofile=${hard + 1}:${hard + 1}`, "busybox", "true"], 125, /hard limit/);
    await fails(["run", "--cap-add", "FOO", "busybox", "true"], 125, /FOO/);
    await fails(["run", "--restart", "sometimes", "busybox", "true"], 125, /restart/);
  });

  it("an unknown image fails with 125", T, async () => {
    await fails(["run", "--pull", "never", "nosuch-image:1", "true"], 125, /nosuch-image/);
    // Pulling from a registry that is not there: connection refused, not a hang.
    await fails(["run", "127.0.0.1:9/nosuch:1", "true"], 125, /127\.0\.0\.1:9/);
  });

  it("an unknown user fails with 125 and run leaves no container", T, async () => {
    await fails(["run", "-u", "nosuch", "busybox", "id"], 125, /nosuch/);
    await fails(["run", "-d", "-u", "nosuch", "busybox", "id"], 125, /nosuch/);
  });

  it("an unknown command fails with 127 and run leaves no container", T, async () => {
    await fails(["run", "busybox", "no-such-command"], 127, /no-such-command/);
  });

  it("leaves nothing behind", T, async () => {
    sb.run(["rm", "-af"]);
    assert.deepEqual(sb.containerIds(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
