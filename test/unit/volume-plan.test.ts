import assert from "node:assert/strict";
import { test } from "node:test";
import { checkVolumeName, randomVolumeName } from "../../src/volume/names.js";
import { parseVolumesFrom, planMounts, withVolumeBinds } from "../../src/volume/plan.js";
import type { MountOption } from "../../src/core/spec/types.js";

const namer = () => {
  let n = 0;
  return () => `anon${n++}`;
};

test("volume names: Docker's pattern, at least two characters; random names are 64 hex", () => {
  for (const ok of ["ab", "a.b-c_d", "0x", "Data1"]) assert.equal(checkVolumeName(ok), ok);
  for (const bad of ["a", "-ab", ".ab", "a/b", "a b", "", "_x"]) assert.throws(() => checkVolumeName(bad), /invalid volume name/);
  assert.match(randomVolumeName(), /^[0-9a-f]{64}$/);
});

test("--volumes-from values", () => {
  assert.deepEqual(parseVolumesFrom("web"), { container: "web" });
  assert.deepEqual(parseVolumesFrom("web:ro"), { container: "web", mode: "ro" });
  assert.deepEqual(parseVolumesFrom("web:rw"), { container: "web", mode: "rw" });
  for (const bad of ["", ":ro", "web:rx", "web:ro:x"]) assert.throws(() => parseVolumesFrom(bad), /invalid --volumes-from/);
});

test("planMounts: anonymous volumes named, --volumes-from copied (mode forced), image VOLUMEs where nothing else is", () => {
  const other: MountOption[] = [
    { type: "volume", source: "shared", destination: "/shared" },
    { type: "bind", source: "/h", destination: "/bind", readOnly: true },
    { type: "tmpfs", destination: "/t" },
    { type: "volume", source: "mine", destination: "/data", noCopy: true },
  ];
  const p = planMounts({
    mounts: [
      { type: "volume", destination: "/anon" },
      { type: "volume", source: "named", destination: "/data/" },
    ],
    tmpfs: ["/cache"],
    volumesFrom: [{ name: "src", mounts: other, mode: "rw" }],
    imageVolumes: ["/cache", "/var/lib/x", "/anon", "relative", "/"],
    newName: namer(),
  });
  assert.deepEqual(p.mounts, [
    { type: "volume", source: "anon0", destination: "/anon", anonymous: true },
    { type: "volume", source: "named", destination: "/data/" },
    { type: "volume", source: "shared", destination: "/shared", from: "src" },
    { type: "bind", source: "/h", destination: "/bind", from: "src" },
    { type: "volume", source: "anon1", destination: "/var/lib/x", anonymous: true },
  ]);
  assert.deepEqual(p.uses, [
    { name: "anon0", destination: "/anon", anonymous: true },
    { name: "named", destination: "/data", anonymous: false },
    { name: "shared", destination: "/shared", anonymous: false },
    { name: "anon1", destination: "/var/lib/x", anonymous: true },
  ]);
  const ro = planMounts({ mounts: [], tmpfs: [], volumesFrom: [{ name: "src", mounts: other, mode: "ro" }], imageVolumes: [], newName: namer() });
  assert.ok(ro.mounts.every((m) => m.readOnly));
});

test("withVolumeBinds: volume mounts become binds of their directories for spec generation", () => {
  const o = { image: "x", mounts: [{ type: "volume", source: "v1", destination: "/d", readOnly: true } as MountOption, { type: "tmpfs", destination: "/t" } as MountOption] };
  assert.deepEqual(withVolumeBinds(o, (n) => `/root/volumes/${n}/_data`).mounts, [
    { type: "bind", source: "/root/volumes/v1/_data", destination: "/d", readOnly: true },
    { type: "tmpfs", destination: "/t" },
  ]);
  const plain = { image: "x" };
  assert.equal(withVolumeBinds(plain, () => ""), plain);
});
