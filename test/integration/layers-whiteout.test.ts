/** readLayered honours overlay whiteouts (0:0 character devices: making them needs root, hence here). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readLayered } from "../../src/runtime/layers.js";

const dir = mkdtempSync(join(tmpdir(), "berth-wh-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a whiteout in a higher layer hides the file, or the whole directory, below it", async () => {
  const lower = join(dir, "lower");
  const mid = join(dir, "mid");
  const upper = join(dir, "upper");
  mkdirSync(join(lower, "etc"), { recursive: true });
  writeFileSync(join(lower, "etc/passwd"), "lower\n");
  writeFileSync(join(lower, "etc/group"), "g\n");
  mkdirSync(join(mid, "etc"), { recursive: true });
  execFileSync("mknod", [join(mid, "etc/passwd"), "c", "0", "0"]);
  mkdirSync(upper);
  assert.equal(await readLayered([mid, lower], "/etc/passwd"), undefined);
  assert.equal(await readLayered([mid, lower], "/etc/group"), "g\n");
  execFileSync("mknod", [join(upper, "etc"), "c", "0", "0"]);
  assert.equal(await readLayered([upper, mid, lower], "/etc/group"), undefined);
});
