import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BerthError } from "../../src/core/errors.js";
import { classifyWhiteout, escapeDumpPath, isAcceptableXattrName, isOverlayPrivateXattr, normalizeEntryPath, shQuote } from "../../src/image/unpack/paths.js";
import { TarReader, TarType, type TarEntry } from "../../src/image/unpack/tar-reader.js";
import { Tree, type Node } from "../../src/image/unpack/tree.js";
import { makeTar, tarEntry } from "../helpers/tar.js";

const isInvalid = (re?: RegExp) => (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT" && (!re || re.test(e.message));

describe("unpack: normalizeEntryPath", () => {
  it("splits and cleans relative names", () => {
    assert.deepEqual(normalizeEntryPath("etc/passwd"), ["etc", "passwd"]);
    assert.deepEqual(normalizeEntryPath("./etc//ssl/./certs/"), ["etc", "ssl", "certs"]);
    assert.deepEqual(normalizeEntryPath("a/b/../c"), ["a", "c"]);
    assert.deepEqual(normalizeEntryPath("a/.."), []);
  });
  it("takes absolute names relative to the root", () => {
    assert.deepEqual(normalizeEntryPath("/abs/file"), ["abs", "file"]);
    assert.deepEqual(normalizeEntryPath("//x"), ["x"]);
  });
  it("names the root for '.', './' and '/'", () => {
    for (const n of [".", "./", "/", "./."]) assert.deepEqual(normalizeEntryPath(n), []);
  });
  it("refuses names that escape the root, naming the entry", () => {
    for (const n of ["..", "../escape", "a/../../x", "./../x", "/../x", "a/b/../../../c"]) {
      assert.throws(() => normalizeEntryPath(n), isInvalid(/escapes the layer root/), n);
      assert.throws(() => normalizeEntryPath(n), (e: Error) => e.message.includes(JSON.stringify(n)));
    }
  });
  it("refuses empty names and NUL bytes", () => {
    assert.throws(() => normalizeEntryPath(""), isInvalid());
    assert.throws(() => normalizeEntryPath("a\0b"), isInvalid(/NUL/));
  });
  it("keeps non-UTF-8 bytes (byte strings) intact", () => {
    const name = Buffer.from([0x64, 0x2f, 0xff, 0xfe]).toString("latin1");
    assert.deepEqual(normalizeEntryPath(name), ["d", "\xff\xfe"]);
  });
});

describe("unpack: classifyWhiteout", () => {
  it("recognises opaque markers, plain whiteouts and AUFS metadata", () => {
    assert.equal(classifyWhiteout("file", "x/file"), null);
    assert.equal(classifyWhiteout(".whatever", "x/.whatever"), null);
    assert.deepEqual(classifyWhiteout(".wh..wh..opq", "x/.wh..wh..opq"), { kind: "opaque" });
    assert.deepEqual(classifyWhiteout(".wh.passwd", "etc/.wh.passwd"), { kind: "remove", name: "passwd" });
    assert.deepEqual(classifyWhiteout(".wh..hidden", "a/.wh..hidden"), { kind: "remove", name: ".hidden" });
    assert.deepEqual(classifyWhiteout(".wh..wh.plnk", ".wh..wh.plnk"), { kind: "ignore" });
  });
  it("refuses whiteouts naming the dir itself or its parent", () => {
    for (const b of [".wh.", ".wh..", ".wh..."]) assert.throws(() => classifyWhiteout(b, `d/${b}`), isInvalid(/malformed whiteout/));
  });
});

describe("unpack: quoting and xattr names", () => {
  it("shQuote survives quotes and odd bytes", () => {
    assert.equal(shQuote("a b"), "'a b'");
    assert.equal(shQuote("it's"), "'it'\\''s'");
    assert.equal(shQuote("$(rm -rf /)\n"), "'$(rm -rf /)\n'");
  });
  it("escapeDumpPath octal-escapes everything but plain printable ASCII", () => {
    assert.equal(escapeDumpPath("./a b"), "./a\\040b");
    assert.equal(escapeDumpPath("x\ny"), "x\\012y");
    assert.equal(escapeDumpPath('q"\\'), "q\\042\\134");
    assert.equal(escapeDumpPath("\xff"), "\\377");
  });
  it("accepts namespaced xattr names and flags overlay-private ones", () => {
    assert.ok(isAcceptableXattrName("user.foo"));
    assert.ok(isAcceptableXattrName("security.capability"));
    assert.ok(!isAcceptableXattrName("foo"));
    assert.ok(!isAcceptableXattrName("user.a=b"));
    assert.ok(!isAcceptableXattrName("user.a b"));
    assert.ok(isOverlayPrivateXattr("trusted.overlay.opaque"));
    assert.ok(isOverlayPrivateXattr("user.overlay.redirect"));
    assert.ok(!isOverlayPrivateXattr("trusted.other"));
  });
});

describe("unpack: in-root resolution (Tree.resolveDir)", () => {
  /** A tree with no I/O: makeDir only records. */
  function model() {
    const tree = new Tree();
    const made: string[] = [];
    const makeDir = (parent: Node, name: string, replacing: Node | null): Node => {
      if (replacing) tree.kill(replacing);
      const n = tree.add(parent, name, "dir");
      made.push(n.path);
      return n;
    };
    const dir = (path: string) => tree.resolveDir(path.split("/"), path, makeDir)!;
    const link = (path: string, target: string) => {
      const parts = path.split("/");
      const n = tree.add(dir(parts.slice(0, -1).join("/")), parts[parts.length - 1]!, "symlink");
      n.target = target;
    };
    return { tree, made, makeDir, dir, link };
  }

  it("creates missing dirs along a plain path", () => {
    const m = model();
    assert.equal(m.dir("a/b/c").path, "a/b/c");
    assert.deepEqual(m.made, ["a", "a/b", "a/b/c"]);
  });
  it("resolves an absolute symlink inside the root, never on the host", () => {
    const m = model();
    m.link("link", "/tmp/outside");
    assert.equal(m.dir("link").path, "tmp/outside");
  });
  it("clamps '..' in link targets at the root, like a chroot", () => {
    const m = model();
    m.link("a/link", "../../../..");
    assert.equal(m.dir("a/link").path, "");
    assert.equal(m.dir("a/link/x").path, "x");
  });
  it("follows relative links from the link's own dir", () => {
    const m = model();
    m.dir("usr/bin");
    m.link("bin", "usr/bin");
    m.link("usr/lib64", "../lib");
    assert.equal(m.dir("bin").path, "usr/bin");
    assert.equal(m.dir("usr/lib64/x").path, "lib/x");
  });
  it("stops symlink loops", () => {
    const m = model();
    m.link("a", "b");
    m.link("b", "a");
    assert.throws(() => m.dir("a/x"), isInvalid(/too many levels/));
  });
  it("refuses a regular file used as a directory", () => {
    const m = model();
    m.tree.add(m.dir("d"), "f", "file");
    assert.throws(() => m.dir("d/f/x"), isInvalid(/not a directory/));
  });
  it("lookup mode creates nothing and reports missing paths", () => {
    const m = model();
    assert.equal(m.tree.resolveDir(["nope", "x"], "nope/x", null), null);
    assert.deepEqual(m.made, []);
  });
  it("kill detaches a subtree", () => {
    const m = model();
    const a = m.dir("a");
    const b = m.dir("a/b");
    m.tree.kill(a);
    assert.equal(a.alive, false);
    assert.equal(b.alive, false);
    assert.equal(m.tree.root.children!.has("a"), false);
  });
});

describe("unpack: TarReader", () => {
  async function read(tar: Buffer, chunk = 333): Promise<{ entries: TarEntry[]; data: Map<string, Buffer>; done: boolean }> {
    const entries: TarEntry[] = [];
    const data = new Map<string, Buffer>();
    let cur = "";
    const r = new TarReader({
      entry(e) {
        entries.push(e);
        cur = e.name;
        data.set(cur, Buffer.alloc(0));
      },
      data(c) {
        data.set(cur, Buffer.concat([data.get(cur)!, c]));
      },
      endEntry() {},
    });
    for (let i = 0; i < tar.length; i += chunk) await r.write(tar.subarray(i, i + chunk));
    r.end();
    return { entries, data, done: r.done };
  }

  it("reads ustar entries of every type across chunk boundaries", async () => {
    const tar = makeTar([
      { name: "d/", type: "dir", mode: 0o1777, uid: 5, gid: 6, mtime: 1234 },
      { name: "d/f", data: "hello", mode: 0o4755 },
      { name: "d/l", type: "symlink", linkname: "../f" },
      { name: "d/h", type: "link", linkname: "d/f" },
      { name: "d/c", type: "char", devmajor: 1, devminor: 3 },
      { name: "d/b", type: "block", devmajor: 8, devminor: 1 },
      { name: "d/p", type: "fifo" },
    ]);
    for (const chunk of [1, 333, 512, 100000]) {
      const { entries, data, done } = await read(tar, chunk);
      assert.equal(done, true);
      assert.deepEqual(
        entries.map((e) => [e.name, e.type]),
        [
          ["d/", TarType.Dir],
          ["d/f", TarType.File],
          ["d/l", TarType.Symlink],
          ["d/h", TarType.Link],
          ["d/c", TarType.Char],
          ["d/b", TarType.Block],
          ["d/p", TarType.Fifo],
        ],
      );
      assert.equal(entries[0]!.mode, 0o1777);
      assert.equal(entries[0]!.uid, 5);
      assert.equal(entries[0]!.mtime, 1234);
      assert.equal(entries[1]!.mode, 0o4755);
      assert.equal(data.get("d/f")!.toString(), "hello");
      assert.equal(entries[2]!.linkname, "../f");
      assert.deepEqual([entries[4]!.devmajor, entries[4]!.devminor], [1, 3]);
    }
  });

  it("applies pax path, binary SCHILY xattrs, LIBARCHIVE xattrs and fractional mtime", async () => {
    const long = "x/".repeat(80) + "file";
    const cap = Buffer.from([1, 0, 0, 2, 0x80, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const tar = makeTar([
      {
        name: long,
        data: "z",
        xattrs: { "security.capability": cap, "user.k": "v" },
        pax: { "LIBARCHIVE.xattr.user.l%3Dx": Buffer.from("bin\0ary").toString("base64"), mtime: "1700000000.5", uid: "70000" },
      },
    ]);
    const { entries } = await read(tar);
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.equal(e.name, long);
    assert.deepEqual(e.xattrs!.get("security.capability"), cap);
    assert.equal(e.xattrs!.get("user.k")!.toString(), "v");
    assert.equal(e.xattrs!.get("user.l=x")!.toString("latin1"), "bin\0ary");
    assert.equal(e.mtime, 1700000000.5);
    assert.equal(e.uid, 70000);
  });

  it("reads GNU long names and base-256 numbers", async () => {
    const h = tarEntry({ name: "placeholder", data: "abc" });
    // Turn the header into a GNU one with a base-256 uid.
    h.write("ustar  \0", 257, 8, "latin1");
    h[108] = 0x80;
    h.fill(0, 109, 116);
    h.writeUInt32BE(3_000_000_000, 112);
    fixChecksum(h);
    const longName = "n/".repeat(100) + "end";
    const body = Buffer.from(longName + "\0");
    const lh = tarEntry({ name: "././@LongLink", data: body });
    lh[156] = "L".charCodeAt(0);
    fixChecksum(lh);
    const tar = Buffer.concat([lh, h, Buffer.alloc(1024)]);
    const { entries, data } = await read(tar, 77);
    assert.equal(entries[0]!.name, longName);
    assert.equal(entries[0]!.uid, 3_000_000_000);
    assert.equal(data.get(longName)!.toString(), "abc");
  });

  it("treats data on header-only types as absent", async () => {
    const sym = tarEntry({ name: "s", type: "symlink", linkname: "t" });
    const tar = Buffer.concat([sym, tarEntry({ name: "f", data: "ok" }), Buffer.alloc(1024)]);
    const { entries } = await read(tar);
    assert.deepEqual(
      entries.map((e) => e.name),
      ["s", "f"],
    );
  });

  it("rejects bad checksums, truncation and GNU sparse files", async () => {
    const good = makeTar([{ name: "f", data: "x".repeat(1000) }]);
    const bad = Buffer.from(good);
    bad[0] = "g".charCodeAt(0);
    await assert.rejects(read(bad), isInvalid(/checksum/));
    await assert.rejects(read(good.subarray(0, 700)), isInvalid(/truncated/));
    await assert.rejects(read(good.subarray(0, 512)), isInvalid(/truncated/));
    const sparse = tarEntry({ name: "s", data: "" });
    sparse[156] = "S".charCodeAt(0);
    fixChecksum(sparse);
    await assert.rejects(read(Buffer.concat([sparse, Buffer.alloc(1024)])), isInvalid(/sparse/));
  });

  it("accepts a tar without the end-of-archive marker and ignores bytes after it", async () => {
    const one = tarEntry({ name: "f", data: "1" });
    assert.equal((await read(one)).entries.length, 1);
    const trailing = Buffer.concat([one, Buffer.alloc(1024), Buffer.from("garbage after the end")]);
    assert.equal((await read(trailing)).entries.length, 1);
  });
});

function fixChecksum(h: Buffer): void {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h.subarray(0, 512)) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
}
