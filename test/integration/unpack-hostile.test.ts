import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BerthError } from "../../src/core/errors.js";
import { applyLayer } from "../../src/image/unpack/index.js";
import { gzip, makeTar, streamOf, type TarEntrySpec } from "../helpers/tar.js";

/*
 * Hostile layers. Each runs in a target that is the only child of a sentinel dir; afterwards the sentinel
 * must hold nothing but the target, and a unique host path in /tmp the layer aims at must not exist.
 */

const isRoot = process.getuid?.() === 0;
const cleanup: string[] = [];
after(() => {
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

interface Arena {
  sentinel: string;
  target: string;
  /** A unique absolute host path that must never come to exist. */
  host: string;
  /** Its name, for relative tricks. */
  hostName: string;
}

function arena(): Arena {
  const sentinel = fs.mkdtempSync(join(tmpdir(), "berth-hostile-"));
  const target = join(sentinel, "target");
  fs.mkdirSync(target);
  const hostName = `berth-escape-${randomBytes(6).toString("hex")}`;
  const host = join("/tmp", hostName);
  cleanup.push(sentinel, host);
  return { sentinel, target, host, hostName };
}

function assertContained(a: Arena): void {
  assert.deepEqual(fs.readdirSync(a.sentinel), ["target"], "nothing appears next to the target");
  assert.equal(fs.existsSync(a.host), false, `${a.host} must not exist`);
  assert.equal(fs.existsSync(join("/", a.hostName)), false);
}

function fingerprint(path: string): string {
  const st = fs.lstatSync(path);
  const body = st.isFile() ? createHash("sha256").update(fs.readFileSync(path)).digest("hex") : "";
  return `${st.ino}:${st.nlink}:${st.mode}:${st.uid}:${st.mtimeMs}:${st.ctimeMs}:${body}`;
}

function xattrNames(path: string): string[] {
  const r = spawnSync("getfattr", ["-h", "-d", "-m", "-", "--absolute-names", path], { encoding: "utf8" });
  return r.stdout
    .split("\n")
    .filter((l) => l.includes("="))
    .map((l) => l.slice(0, l.indexOf("=")));
}

async function run(a: Arena, entries: TarEntrySpec[]) {
  return applyLayer(streamOf(gzip(makeTar(entries)), 997), a.target, { compression: "gzip" });
}

const invalidNaming = (entry: string) => (e: unknown) => {
  assert.ok(e instanceof BerthError, String(e));
  assert.equal(e.code, "INVALID_ARGUMENT", e.message);
  assert.ok(e.message.includes(JSON.stringify(entry)), `message names the entry: ${e.message}`);
  return true;
};

describe("unpack: hostile layers stay inside the target", { skip: !isRoot && "needs root" }, () => {
  it("refuses ../escape", async () => {
    const a = arena();
    await assert.rejects(run(a, [{ name: "../escape", data: "x" }]), invalidNaming("../escape"));
    assertContained(a);
  });

  it("refuses a/../../x", async () => {
    const a = arena();
    await assert.rejects(run(a, [{ name: "a/../../x", data: "x" }]), invalidNaming("a/../../x"));
    assertContained(a);
  });

  it("refuses ../ in a pax path too", async () => {
    const a = arena();
    const name = "ok/" + "x".repeat(120) + "/../../../" + a.hostName;
    await assert.rejects(run(a, [{ name, data: "x" }]), invalidNaming(name));
    assertContained(a);
  });

  it("puts /abs/file inside the target", async () => {
    const a = arena();
    const abs = `${a.host}/file`;
    await run(a, [{ name: abs, data: "inside" }]);
    assert.equal(fs.readFileSync(join(a.target, "tmp", a.hostName, "file"), "utf8"), "inside");
    assertContained(a);
  });

  it("resolves link -> /tmp/<unique> inside the root for link/file", async () => {
    const a = arena();
    await run(a, [
      { name: "link", type: "symlink", linkname: a.host },
      { name: "link/file", data: "through the link" },
    ]);
    assert.equal(fs.readlinkSync(join(a.target, "link")), a.host, "the link text is kept as is");
    assert.equal(fs.readFileSync(join(a.target, "tmp", a.hostName, "file"), "utf8"), "through the link");
    assertContained(a);
  });

  it("clamps link -> ../../.. at the root for link/x", async () => {
    const a = arena();
    await run(a, [
      { name: "sub/link", type: "symlink", linkname: "../../.." },
      { name: `sub/link/${a.hostName}`, data: "x" },
      { name: "sub/link/tmp/", type: "dir", mode: 0o700 },
    ]);
    assert.equal(fs.readFileSync(join(a.target, a.hostName), "utf8"), "x");
    assert.equal(fs.lstatSync(join(a.target, "tmp")).mode & 0o777, 0o700);
    assert.equal(fs.lstatSync("/tmp").mode & 0o7777, 0o1777, "host /tmp untouched");
    assertContained(a);
  });

  it("never writes through a symlink to a host file (link -> /etc/passwd, then a file at the link)", async () => {
    const a = arena();
    const before = fingerprint("/etc/passwd");
    await run(a, [
      { name: "e", type: "symlink", linkname: "/etc" },
      { name: "e/passwd", data: "root::0:0::/:/bin/sh\n" },
      { name: "pw", type: "symlink", linkname: "/etc/passwd" },
      { name: "pw", data: "replaces the link, not its target" },
      { name: "pw2", type: "symlink", linkname: "/etc/passwd" },
      { name: "pw2/", type: "dir", mode: 0o777 },
    ]);
    assert.equal(fingerprint("/etc/passwd"), before);
    assert.equal(fs.readFileSync(join(a.target, "etc/passwd"), "utf8"), "root::0:0::/:/bin/sh\n");
    assert.ok(fs.lstatSync(join(a.target, "pw")).isFile());
    assert.ok(fs.lstatSync(join(a.target, "pw2")).isDirectory());
    // A link to itself is a loop inside the root, as in a chroot (ELOOP), never a path to the host.
    await assert.rejects(
      run(arena(), [
        { name: "etc", type: "symlink", linkname: "/etc" },
        { name: "etc/passwd", data: "x" },
      ]),
      /too many levels of symbolic links/,
    );
    assert.equal(fingerprint("/etc/passwd"), before);
    assertContained(a);
  });

  it("refuses a hardlink to /etc/passwd", async () => {
    const a = arena();
    const before = fingerprint("/etc/passwd");
    await assert.rejects(run(a, [{ name: "pw", type: "link", linkname: "/etc/passwd" }]), /not an earlier entry/);
    assert.equal(fingerprint("/etc/passwd"), before, "link count unchanged");
    assert.equal(fs.existsSync(join(a.target, "pw")), false);
    assertContained(a);
  });

  it("refuses a hardlink to ../../outside", async () => {
    const a = arena();
    fs.writeFileSync(join(a.sentinel, "..", `${a.hostName}`), "outside");
    try {
      await assert.rejects(run(a, [{ name: "x", type: "link", linkname: `../../${a.hostName}` }]), /outside the layer/);
      assert.equal(fs.lstatSync(join(a.sentinel, "..", a.hostName)).nlink, 1);
    } finally {
      fs.rmSync(join(a.sentinel, "..", a.hostName));
    }
    assertContained(a);
  });

  it("refuses a hardlink through a symlinked dir", async () => {
    const a = arena();
    const before = fingerprint("/etc/passwd");
    await assert.rejects(
      run(a, [
        { name: "d", type: "symlink", linkname: "/etc" },
        { name: "x", type: "link", linkname: "d/passwd" },
      ]),
      /not an earlier entry/,
    );
    await assert.rejects(
      run(arena(), [
        { name: "d", type: "symlink", linkname: "../../../../../../etc" },
        { name: "x", type: "link", linkname: "d/passwd" },
      ]),
      /not an earlier entry/,
    );
    assert.equal(fingerprint("/etc/passwd"), before);
    assertContained(a);
  });

  it("a hardlink through an in-layer symlink reaches only in-layer files", async () => {
    const a = arena();
    await run(a, [
      { name: "real/f", data: "in layer" },
      { name: "d", type: "symlink", linkname: "/real" },
      { name: "x", type: "link", linkname: "d/f" },
    ]);
    assert.equal(fs.lstatSync(join(a.target, "x")).ino, fs.lstatSync(join(a.target, "real/f")).ino);
    assertContained(a);
  });

  for (const linkTo of ["abs", "rel"] as const) {
    it(`a dir replaced by a symlink (${linkTo}) cancels deferred mknod, whiteout and xattr under it`, async () => {
      const a = arena();
      fs.mkdirSync(a.host);
      const hostBefore = fingerprint(a.host);
      const target = linkTo === "abs" ? a.host : `../../../../../../../..${a.host}`;
      await run(a, [
        { name: "d/", type: "dir" },
        { name: "d/.wh.victim" },
        { name: "d/.wh..wh..opq" },
        { name: "d/null", type: "char", devmajor: 1, devminor: 3 },
        { name: "d/fifo", type: "fifo" },
        { name: "d/f", data: "f", xattrs: { "user.evil": "1" } },
        { name: "d", type: "symlink", linkname: target },
      ]);
      assert.ok(fs.lstatSync(join(a.target, "d")).isSymbolicLink());
      assert.deepEqual(fs.readdirSync(a.host), [], "nothing created in the host dir");
      assert.deepEqual(xattrNames(a.host), [], "no xattr set on the host dir");
      assert.equal(fingerprint(a.host), hostBefore);
      fs.rmdirSync(a.host);
      assertContained(a);
    });
  }

  it("whiteouts and opaque markers through a symlink land inside the target", async () => {
    const a = arena();
    fs.mkdirSync(a.host);
    await run(a, [
      { name: "l", type: "symlink", linkname: a.host },
      { name: "l/.wh.victim" },
      { name: "l/.wh..wh..opq" },
      { name: "t", type: "symlink", linkname: "/tmp" },
      { name: "t/.wh..wh..opq" },
      { name: "t/dev", type: "char", devmajor: 1, devminor: 3 },
    ]);
    const inside = join(a.target, "tmp", a.hostName);
    assert.ok(fs.lstatSync(join(inside, "victim")).isCharacterDevice());
    assert.ok(xattrNames(inside).includes("trusted.overlay.opaque"));
    assert.ok(xattrNames(join(a.target, "tmp")).includes("trusted.overlay.opaque"));
    assert.ok(!xattrNames("/tmp").includes("trusted.overlay.opaque"), "host /tmp untouched");
    assert.equal(fs.existsSync("/tmp/dev"), false);
    assert.deepEqual(fs.readdirSync(a.host), []);
    fs.rmdirSync(a.host);
    assertContained(a);
  });

  it("refuses malformed whiteouts and non-dir entries for the root", async () => {
    for (const entries of [[{ name: "d/.wh.." }], [{ name: ".wh." }], [{ name: "./", data: "root as a file" }]] as TarEntrySpec[][]) {
      const a = arena();
      await assert.rejects(run(a, entries), (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT");
      assertContained(a);
    }
  });

  it("puts xattrs of a symlink entry on the link itself, never on what it points to", async () => {
    const a = arena();
    fs.writeFileSync(a.host, "host file");
    const before = xattrNames(a.host);
    await run(a, [{ name: "l", type: "symlink", linkname: a.host, xattrs: { "trusted.berth-test": "1", "user.dropped": "1" } }]);
    assert.deepEqual(xattrNames(a.host), before);
    assert.deepEqual(xattrNames(join(a.target, "l")), ["trusted.berth-test"]);
    fs.rmSync(a.host);
    assertContained(a);
  });

  it("refuses a hardlink that would replace the dir holding its own target", async () => {
    const a = arena();
    await assert.rejects(
      run(a, [
        { name: "d/f", data: "f" },
        { name: "d", type: "link", linkname: "d/f" },
      ]),
      /replaced its own hardlink target/,
    );
    assertContained(a);
  });

  it("the on-disk re-check before a batch refuses a path whose parent became a symlink", async () => {
    // The model normally cancels such operations first (see above); this checks the second line of
    // defence directly by changing the disk behind the model's back.
    const { AncestorGuard } = await import("../../src/image/unpack/batch.js");
    const a = arena();
    fs.mkdirSync(a.host);
    fs.mkdirSync(join(a.target, "ok"));
    fs.symlinkSync(a.host, join(a.target, "d"));
    const guard = new AncestorGuard(a.target);
    guard.checkAncestors("ok/x");
    assert.throws(() => guard.checkAncestors("d/x"), (e: unknown) => e instanceof BerthError && /no longer a directory/.test(e.message));
    assert.throws(() => guard.checkAncestors("ok/../d/x"));
    fs.rmdirSync(a.host);
    fs.rmSync(join(a.target, "d"));
    fs.rmdirSync(join(a.target, "ok"));
    assertContained(a);
  });

  it("stops symlink loops without escaping", async () => {
    const a = arena();
    await assert.rejects(
      run(a, [
        { name: "a", type: "symlink", linkname: "b" },
        { name: "b", type: "symlink", linkname: "a" },
        { name: "a/x", data: "x" },
      ]),
      /too many levels of symbolic links/,
    );
    assertContained(a);
  });
});
