import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readLayered } from "../../src/runtime/layers.js";
import { generateSpec } from "../../src/core/spec/index.js";
import type { HostFacts } from "../../src/core/spec/types.js";
import { berthError } from "../helpers/errors.js";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function layer(files: Record<string, string | { link: string }>): string {
  const d = mkdtempSync(join(tmpdir(), "berth-layer-"));
  dirs.push(d);
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(join(d, p, ".."), { recursive: true });
    if (typeof v === "string") writeFileSync(join(d, p), v);
    else symlinkSync(v.link, join(d, p));
  }
  return d;
}

test("readLayered: the top layer wins, lower layers show through, symlinks resolve inside the union", async () => {
  const lower = layer({ "etc/passwd": "lower\n", "etc/group": "g\n", "usr/lib/os-release": "os\n" });
  const upper = layer({ "etc/passwd": "upper\n", "etc/os-release": { link: "../usr/lib/os-release" }, "etc/abs": { link: "/etc/group" }, "etc/escape": { link: "../../../../../etc/group" } });
  assert.equal(await readLayered([upper, lower], "/etc/passwd"), "upper\n");
  assert.equal(await readLayered([lower], "/etc/passwd"), "lower\n");
  assert.equal(await readLayered([upper, lower], "/etc/os-release"), "os\n");
  assert.equal(await readLayered([upper, lower], "/etc/abs"), "g\n");
  // ".." stops at the union's root: the link cannot reach the host's /etc/group.
  assert.equal(await readLayered([upper, lower], "/etc/escape"), "g\n");
  assert.equal(await readLayered([upper, lower], "/etc/nothing"), undefined);
  assert.equal(await readLayered([upper, lower], "/etc"), undefined, "a directory is not a file");
});

const host: HostFacts = { arch: "amd64", cgroupVersion: 1, capLastCap: 40, seccomp: true, selinux: false, hardLimits: {}, devices: [], procKcore: false, uid: 0, gid: 0 };
const input = (options: object) => ({
  id: "a".repeat(64),
  rootfs: "/r",
  image: { Cmd: ["sh"] },
  options: { image: "x", ...options },
  user: { uid: 0, gid: 0, additionalGids: [], home: "/root" },
  host,
  cgroupsPath: "berth/a",
});

test("user namespaces: devpts loses gid=5 when the tty group is not mapped; keep-id is refused for root", () => {
  const devpts = (o: object) => generateSpec(input(o)).mounts.find((m) => m.type === "devpts")!.options!;
  assert.ok(devpts({}).includes("gid=5"));
  assert.ok(devpts({ uidMaps: [{ containerID: 0, hostID: 100000, size: 65536 }] }).includes("gid=5"));
  assert.ok(!devpts({ uidMaps: [{ containerID: 0, hostID: 100000, size: 1 }] }).includes("gid=5"));
  assert.throws(() => generateSpec(input({ userns: "keep-id" })), berthError("INVALID_ARGUMENT", /berth runs as root/));
});
