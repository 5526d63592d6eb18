/** `berth system reset -f` removes every container (running ones too), image, blob and snapshot. */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 60_000 };

describe("containers: system reset", () => {
  let sb: ContainerSandbox;

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
  });

  it("removes running and stopped containers, images and their files", T, async () => {
    sb.ok(["run", "-d", "--name", "up", "busybox", "sleep", "300"]);
    sb.ok(["run", "--name", "done", "busybox", "true"]);
    sb.ok(["create", "--name", "new", "busybox", "true"]);
    assert.equal(sb.ok(["ps", "-aq"]).trim().split("\n").length, 3);
    const r = sb.run(["system", "reset"]);
    assert.notEqual(r.code, 0, "without -f and without a terminal it refuses");
    assert.equal(sb.ok(["ps", "-aq"]).trim().split("\n").length, 3);
    sb.ok(["system", "reset", "-f"]);
    assert.equal(sb.ok(["ps", "-aq"]).trim(), "");
    assert.equal(sb.ok(["images", "-q"]).trim(), "");
    assert.deepEqual(sb.snapshotDirs(), []);
    assert.deepEqual(sb.blobs(), []);
    const ctrs = join(sb.root, "containers");
    assert.deepEqual(existsSync(ctrs) ? readdirSync(ctrs) : [], []);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
