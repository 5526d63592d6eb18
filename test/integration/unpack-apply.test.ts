import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import tarStream from "tar-stream";
import { BerthError } from "../../src/core/errors.js";
import type { Digest } from "../../src/core/digest.js";
import { applyLayer, type ApplyOptions } from "../../src/image/unpack/index.js";
import { countingStream, gzip, makeTar, streamOf, zstd, type TarEntrySpec } from "../helpers/tar.js";

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh empty target inside its own sentinel dir. */
function target(): string {
  const sentinel = fs.mkdtempSync(join(tmpdir(), "berth-unpack-"));
  dirs.push(sentinel);
  const t = join(sentinel, "target");
  fs.mkdirSync(t);
  return t;
}

const sha = (b: Buffer): Digest => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const compressors = { none: (b: Buffer) => b, gzip, zstd } as const;

async function extract(entries: TarEntrySpec[] | Buffer, opts: Partial<ApplyOptions> = {}, dir = target()) {
  const tar = Buffer.isBuffer(entries) ? entries : makeTar(entries);
  const compression = opts.compression ?? "none";
  const blob = compressors[compression](tar);
  const { stream, consumed } = countingStream(blob, 4093);
  const result = await applyLayer(stream, dir, { ...opts, compression });
  assert.equal(consumed(), blob.length, "the blob is read to its end");
  return { dir, tar, result };
}

/** getfattr's view of a path: name -> hex value. */
function xattrs(path: string): Record<string, string> {
  const r = spawnSync("getfattr", ["-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", path], { encoding: "utf8" });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const major = (rdev: number) => (rdev >> 8) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
const CAP = Buffer.from("0100000200200000000000000000000000000000", "hex"); // v2, cap_net_raw permitted

const BASIC: TarEntrySpec[] = [
  { name: "./", type: "dir", mode: 0o755, mtime: 1_500_000_000 },
  { name: "etc/", type: "dir", mode: 0o755, mtime: 1_500_000_100 },
  { name: "etc/hosts", data: "127.0.0.1 localhost\n", uid: 1000, gid: 1000, mtime: 1_500_000_200 },
  { name: "home/user/", type: "dir", mode: 0o700, uid: 1000, gid: 1000, mtime: 1_500_000_300 },
  { name: "tmp/", type: "dir", mode: 0o1777, mtime: 1_500_000_400 },
  { name: "srv/", type: "dir", mode: 0o2775, gid: 50, mtime: 1_500_000_450 },
  { name: "srv/data", data: "x", mode: 0o640, uid: 7, gid: 8 },
  { name: "bin/", type: "dir" },
  { name: "bin/busybox", data: Buffer.alloc(3 << 20, 0xab), mode: 0o755, mtime: 1_500_000_500 },
  { name: "bin/su", data: "su!", mode: 0o4755, mtime: 1_500_000_600 },
  { name: "bin/ping", data: "ping", mode: 0o755, xattrs: { "security.capability": CAP, "user.note": "hello" } },
  { name: "bin/sh", type: "symlink", linkname: "busybox", uid: 3, gid: 4, mtime: 1_500_000_700 },
  { name: "bin/ls", type: "link", linkname: "bin/busybox" },
  { name: "bin/abs", type: "symlink", linkname: "/bin/busybox" },
  { name: "dev/", type: "dir" },
  { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666, mtime: 1_500_000_800 },
  { name: "dev/sda", type: "block", devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
  { name: "dev/fifo", type: "fifo", mode: 0o600, uid: 1000 },
  { name: "etc/.wh.shadow" },
  { name: "opt/.wh..wh..opq" },
  { name: "opt/kept", data: "kept" },
];

describe("unpack: applyLayer basics", { skip: !isRoot && "needs root" }, () => {
  for (const compression of ["none", "gzip", "zstd"] as const) {
    it(`extracts every entry kind with metadata (${compression})`, async () => {
      const { dir, tar, result } = await extract(BASIC, { compression });
      assert.equal(result.diffId, sha(tar));
      assert.equal(result.size, 20 + 1 + (3 << 20) + 3 + 4 + 4);
      const st = (p: string) => fs.lstatSync(join(dir, p));

      assert.equal(fs.readFileSync(join(dir, "etc/hosts"), "utf8"), "127.0.0.1 localhost\n");
      assert.deepEqual([st("etc/hosts").uid, st("etc/hosts").gid], [1000, 1000]);
      assert.equal(st("etc/hosts").mtimeMs, 1_500_000_200_000);
      assert.equal(st("etc").mtimeMs, 1_500_000_100_000, "dir mtimes survive children being created");
      assert.equal(st("").mtimeMs, 1_500_000_000_000, "the root entry's metadata applies to the target");
      assert.equal(st("home/user").mode & 0o7777, 0o700);
      assert.equal(st("tmp").mode & 0o7777, 0o1777);
      assert.equal(st("srv").mode & 0o7777, 0o2775);
      assert.deepEqual([st("srv/data").uid, st("srv/data").gid, st("srv/data").mode & 0o7777], [7, 8, 0o640]);
      assert.equal(st("bin/su").mode & 0o7777, 0o4755);
      assert.ok(fs.readFileSync(join(dir, "bin/busybox")).equals(Buffer.alloc(3 << 20, 0xab)));

      assert.ok(st("bin/sh").isSymbolicLink());
      assert.equal(fs.readlinkSync(join(dir, "bin/sh")), "busybox");
      assert.deepEqual([st("bin/sh").uid, st("bin/sh").gid], [3, 4]);
      assert.equal(st("bin/sh").mtimeMs, 1_500_000_700_000);
      assert.equal(fs.readlinkSync(join(dir, "bin/abs")), "/bin/busybox");
      assert.equal(st("bin/ls").ino, st("bin/busybox").ino, "hardlink shares the inode");
      assert.equal(st("bin/busybox").nlink, 2);

      const x = xattrs(join(dir, "bin/ping"));
      assert.equal(x["security.capability"], CAP.toString("hex"));
      assert.equal(x["user.note"], Buffer.from("hello").toString("hex"));

      assert.ok(st("dev/null").isCharacterDevice());
      assert.deepEqual([major(st("dev/null").rdev), minor(st("dev/null").rdev)], [1, 3]);
      assert.equal(st("dev/null").mode & 0o7777, 0o666);
      assert.equal(st("dev/null").mtimeMs, 1_500_000_800_000);
      assert.ok(st("dev/sda").isBlockDevice());
      assert.deepEqual([major(st("dev/sda").rdev), st("dev/sda").gid], [8, 6]);
      assert.ok(st("dev/fifo").isFIFO());
      assert.equal(st("dev/fifo").uid, 1000);

      assert.ok(st("etc/shadow").isCharacterDevice(), "whiteout becomes a char device");
      assert.equal(st("etc/shadow").rdev, 0, "whiteout is 0:0");
      assert.equal(fs.existsSync(join(dir, "etc/.wh.shadow")), false);
      assert.equal(xattrs(join(dir, "opt"))["trusted.overlay.opaque"], "79");
      assert.equal(fs.existsSync(join(dir, "opt/.wh..wh..opq")), false);
      assert.equal(fs.readFileSync(join(dir, "opt/kept"), "utf8"), "kept");
    });
  }

  it("reads tars made by tar-stream (pax long names) and by GNU tar --xattrs", async () => {
    const pack = tarStream.pack();
    const long = "deep/".repeat(40) + "file.txt";
    pack.entry({ name: "deep", type: "directory", mode: 0o755 });
    pack.entry({ name: long, mode: 0o600, uid: 42, gid: 43, mtime: new Date(1_600_000_000_000) }, "long name content");
    pack.entry({ name: "ln", type: "symlink", linkname: long });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const { dir, tar, result } = await extract(Buffer.concat(chunks), { compression: "gzip" });
    assert.equal(result.diffId, sha(tar));
    assert.equal(fs.readFileSync(join(dir, long), "utf8"), "long name content");
    assert.equal(fs.lstatSync(join(dir, long)).uid, 42);
    assert.equal(fs.readlinkSync(join(dir, "ln")), long);

    // GNU tar as an independent producer of SCHILY.xattr records, binary capability included.
    const src = target();
    fs.writeFileSync(join(src, "ping"), "ping");
    execFileSync("setfattr", ["-n", "security.capability", "-v", "0x" + CAP.toString("hex"), join(src, "ping")]);
    execFileSync("setfattr", ["-n", "user.k", "-v", "0xff00fe", join(src, "ping")]);
    const gnu = execFileSync("tar", ["--xattrs", "--xattrs-include=*", "--format=posix", "-C", src, "-cf", "-", "."], { maxBuffer: 1 << 26 });
    const { dir: d2 } = await extract(gnu, { compression: "zstd" });
    const x = xattrs(join(d2, "ping"));
    assert.equal(x["security.capability"], CAP.toString("hex"));
    assert.equal(x["user.k"], "ff00fe");
  });

  it("keeps file names that are not UTF-8", async () => {
    const raw = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x74]); // f\xff\xfe.t
    const header = makeTar([{ name: "PLACEHOLDER", data: "bytes" }]);
    raw.copy(header, 0);
    header.fill(0, raw.length, 100);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header.subarray(0, 512)) sum += b;
    header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
    const { dir } = await extract(header);
    const names = fs.readdirSync(Buffer.from(dir), { encoding: "buffer" });
    assert.deepEqual(names, [raw]);
  });

  it("checks the diff_id and reports both digests on mismatch", async () => {
    const tar = makeTar([{ name: "f", data: "x" }]);
    const ok = await extract(tar, { compression: "gzip", expectedDiffId: sha(tar) });
    assert.equal(ok.result.diffId, sha(tar));
    const wrong = sha(Buffer.from("other"));
    await assert.rejects(extract(tar, { compression: "gzip", expectedDiffId: wrong }), (e: unknown) => {
      assert.ok(e instanceof BerthError && e.code === "INVALID_ARGUMENT");
      assert.ok(e.message.includes(wrong) && e.message.includes(sha(tar)), e.message);
      return true;
    });
  });

  it("fails cleanly on corrupt or truncated compressed blobs", async () => {
    const tar = makeTar([{ name: "f", data: Buffer.concat([Buffer.alloc(100_000, 7), randomBytes(100_000)]) }, { name: "g", data: "y" }]);
    const gz = gzip(tar);
    const zs = zstd(tar);
    const corrupt = Buffer.from(gz);
    for (let i = 40; i < 80; i++) corrupt[i] = corrupt[i]! ^ 0x5a;
    const cases: [string, Buffer, ApplyOptions["compression"], RegExp][] = [
      ["corrupt gzip", corrupt, "gzip", /not valid gzip/],
      ["truncated gzip", gz.subarray(0, gz.length - 100), "gzip", /gzip|truncated/],
      ["not gzip at all", tar, "gzip", /not valid gzip/],
      ["not zstd at all", tar, "zstd", /not valid zstd/],
      ["truncated zstd", zs.subarray(0, zs.length - 1000), "zstd", /zstd|truncated/],
      ["corrupt zstd", Buffer.concat([zs.subarray(0, 5000), randomBytes(1000), zs.subarray(6000)]), "zstd", /zstd|corrupt/],
      ["truncated tar", tar.subarray(0, 100_000), "none", /truncated/],
    ];
    for (const [what, blob, compression, re] of cases) {
      await assert.rejects(applyLayer(streamOf(blob), target(), { compression }), (e: unknown) => {
        assert.ok(e instanceof BerthError, `${what}: ${String(e)}`);
        assert.equal(e.code, "INVALID_ARGUMENT", `${what}: ${e.message}`);
        assert.match(e.message, re, what);
        assert.ok(!e.message.includes("\n"), "one-line message");
        return true;
      });
    }
  });

  it("replaces earlier entries: file<->dir, dir over dir, whiteouts in the same layer", async () => {
    const { dir } = await extract([
      { name: "a", data: "file first" },
      { name: "a/", type: "dir", mode: 0o750 }, // dir replaces file
      { name: "a/x", data: "x" },
      { name: "b/", type: "dir" },
      { name: "b/deep/er/file", data: "gone" },
      { name: "b", data: "now a file" }, // file replaces a whole dir tree
      { name: "c/", type: "dir", mode: 0o755, uid: 1 },
      { name: "c/keep", data: "keep" },
      { name: "c/", type: "dir", mode: 0o700, uid: 2, mtime: 1_400_000_000 }, // dir over dir: contents stay
      { name: ".wh.d" },
      { name: "d/", type: "dir" }, // dir replacing a whiteout: opaque
      { name: "d/new", data: "n" },
      { name: "e/", type: "dir" },
      { name: "e/old", data: "o" },
      { name: ".wh.e" }, // whiteout after this layer's own dir: dir stays, becomes opaque
      { name: "f", data: "f" },
      { name: ".wh.f" }, // whiteout after this layer's own file: file stays
      { name: ".wh.g/child", data: "ordinary dir named like a whiteout" },
      { name: "h", data: "first" },
      { name: "h", data: "second" },
      { name: "i", type: "symlink", linkname: "h" },
      { name: "i", data: "file over symlink" },
    ]);
    const st = (p: string) => fs.lstatSync(join(dir, p));
    assert.ok(st("a").isDirectory());
    assert.equal(st("a").mode & 0o777, 0o750);
    assert.equal(fs.readFileSync(join(dir, "a/x"), "utf8"), "x");
    assert.ok(st("b").isFile());
    assert.equal(fs.readFileSync(join(dir, "b"), "utf8"), "now a file");
    assert.equal(fs.readFileSync(join(dir, "c/keep"), "utf8"), "keep");
    assert.deepEqual([st("c").mode & 0o777, st("c").uid, st("c").mtimeMs], [0o700, 2, 1_400_000_000_000]);
    assert.ok(st("d").isDirectory());
    assert.equal(xattrs(join(dir, "d"))["trusted.overlay.opaque"], "79");
    assert.equal(xattrs(join(dir, "e"))["trusted.overlay.opaque"], "79");
    assert.equal(fs.readFileSync(join(dir, "e/old"), "utf8"), "o");
    assert.equal(fs.readFileSync(join(dir, "f"), "utf8"), "f");
    assert.ok(st(".wh.g/child").isFile());
    assert.equal(fs.readFileSync(join(dir, "h"), "utf8"), "second");
    assert.ok(st("i").isFile());
    assert.equal(fs.readFileSync(join(dir, "h"), "utf8"), "second", "replacing a symlink never writes through it");
  });

  it("links to a device node still waiting for the batch, and refuses unknown hardlink targets", async () => {
    const { dir } = await extract([
      { name: "dev/null", type: "char", devmajor: 1, devminor: 3 },
      { name: "dev/null2", type: "link", linkname: "dev/null" },
    ]);
    assert.equal(fs.lstatSync(join(dir, "dev/null2")).ino, fs.lstatSync(join(dir, "dev/null")).ino);
    await assert.rejects(extract([{ name: "l", type: "link", linkname: "missing" }]), /not an earlier entry/);
    await assert.rejects(extract([{ name: "d/", type: "dir" }, { name: "l", type: "link", linkname: "d" }]), /hardlink to a directory/);
  });

  it("drops overlay-private xattrs a layer tries to set", async () => {
    const { dir } = await extract([
      { name: "d/", type: "dir", xattrs: { "trusted.overlay.opaque": "y", "trusted.overlay.redirect": "/etc", "user.ok": "1" } },
    ]);
    const x = xattrs(join(dir, "d"));
    assert.equal(x["trusted.overlay.opaque"], undefined);
    assert.equal(x["trusted.overlay.redirect"], undefined);
    assert.equal(x["user.ok"], "31");
  });

  it("refuses a non-empty target and honours an abort signal", async () => {
    const dir = target();
    fs.writeFileSync(join(dir, "stale"), "");
    await assert.rejects(applyLayer(streamOf(makeTar([])), dir, { compression: "none" }), (e: unknown) => e instanceof BerthError && e.code === "FAILED_PRECONDITION");
    const ac = new AbortController();
    const big = makeTar(Array.from({ length: 200 }, (_, i) => ({ name: `f${i}`, data: Buffer.alloc(50_000) })));
    const p = applyLayer(streamOf(gzip(big), 1000), target(), { compression: "gzip", signal: ac.signal });
    setImmediate(() => ac.abort());
    await assert.rejects(p, (e: Error) => e.name === "AbortError");
  });

  it("stacks two extracted layers with overlayfs: whiteouts hide, opaque dirs empty", async () => {
    const lower = (
      await extract(
        [
          { name: "a/", type: "dir" },
          { name: "a/keep", data: "keep" },
          { name: "a/gone", data: "gone" },
          { name: "a/gonedir/", type: "dir" },
          { name: "a/gonedir/f", data: "f" },
          { name: "o/", type: "dir" },
          { name: "o/x", data: "x" },
          { name: "o/y", data: "y" },
        ],
        { compression: "gzip" },
      )
    ).dir;
    const upper = (
      await extract(
        [
          { name: "a/", type: "dir" },
          { name: "a/.wh.gone" },
          { name: "a/.wh.gonedir" },
          { name: "o/", type: "dir" },
          { name: "o/.wh..wh..opq" },
          { name: "o/new", data: "new" },
        ],
        { compression: "zstd" },
      )
    ).dir;
    const mnt = target();
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", `ro,lowerdir=${upper}:${lower}`, mnt]);
    try {
      assert.deepEqual(fs.readdirSync(join(mnt, "a")).sort(), ["keep"]);
      assert.equal(fs.readFileSync(join(mnt, "a/keep"), "utf8"), "keep");
      assert.deepEqual(fs.readdirSync(join(mnt, "o")).sort(), ["new"]);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
