import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { BerthError } from "../../src/core/errors.js";
import { archivePath, parseDockerManifest, parseRepositories } from "../../src/image/archive/docker-manifest.js";
import { namesFromAnnotations } from "../../src/image/archive/names.js";
import { detectCompression, looksLikeTar, peek } from "../../src/image/archive/sniff.js";

const HEX = "a".repeat(64);

function tarHeader(name: string): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0);
  b.write("0000644\0", 100);
  b.write("0000000\0", 108);
  b.write("0000000\0", 116);
  b.write("00000000000\0", 124);
  b.write("00000000000\0", 136);
  b.write("0", 156);
  b.write("ustar\0", 257);
  b.write("00", 263);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return b;
}

function invalidWith(re: RegExp) {
  return (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT" && re.test(e.message);
}

describe("archive: format sniffing", () => {
  it("detects compression from magic bytes", () => {
    assert.equal(detectCompression(gzipSync("x")), "gzip");
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), "zstd");
    assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), "xz");
    assert.equal(detectCompression(Buffer.from("BZh91AY")), "bzip2");
    assert.equal(detectCompression(tarHeader("manifest.json")), "none");
    assert.equal(detectCompression(Buffer.alloc(0)), "none");
  });

  it("recognises tar headers by checksum, and empty archives", () => {
    assert.equal(looksLikeTar(tarHeader("manifest.json")), true);
    assert.equal(looksLikeTar(Buffer.alloc(512)), true);
    const bad = tarHeader("x");
    bad[0] = 0x79;
    assert.equal(looksLikeTar(bad), false, "checksum catches a changed byte");
    assert.equal(looksLikeTar(Buffer.from("{\"not\": \"a tar\"}".padEnd(512))), false);
    assert.equal(looksLikeTar(Buffer.alloc(100)), false);
  });

  it("peek returns the head and a stream of the whole input", async () => {
    const { head, stream } = await peek(Readable.from([Buffer.from("ab"), Buffer.from("cdef"), Buffer.from("gh")]), 5);
    assert.equal(head.toString(), "abcde");
    const all: Buffer[] = [];
    for await (const c of stream) all.push(c as Buffer);
    assert.equal(Buffer.concat(all).toString(), "abcdefgh");
    const short = await peek(Readable.from([Buffer.from("x")]), 10);
    assert.equal(short.head.toString(), "x");
  });
});

describe("archive: docker-archive manifest.json", () => {
  it("parses docker save and skopeo forms, normalising paths", () => {
    const m = parseDockerManifest(
      JSON.stringify([
        { Config: `${HEX}.json`, RepoTags: ["busybox:latest"], Layers: [`./${HEX}/layer.tar`] },
        { Config: `blobs/sha256/${HEX}`, RepoTags: null, Layers: [`blobs/sha256/${HEX}`], LayerSources: {} },
      ]),
    );
    assert.deepEqual(m[0], { config: `${HEX}.json`, repoTags: ["busybox:latest"], layers: [`${HEX}/layer.tar`] });
    assert.deepEqual(m[1]!.repoTags, []);
  });

  it("rejects malformed documents with the failing field", () => {
    assert.throws(() => parseDockerManifest("{"), invalidWith(/manifest.json is not valid JSON/));
    assert.throws(() => parseDockerManifest("[]"), invalidWith(/lists no images/));
    assert.throws(() => parseDockerManifest(JSON.stringify({ Config: "x" })), invalidWith(/manifest.json is invalid/));
    assert.throws(() => parseDockerManifest(JSON.stringify([{ Config: "c.json" }])), invalidWith(/0\.Layers/));
    assert.throws(() => parseDockerManifest(JSON.stringify([{ Config: "c.json", Layers: [1] }])), invalidWith(/0\.Layers\.0/));
    assert.throws(() => parseDockerManifest(JSON.stringify([{ Config: "../etc/passwd", Layers: [] }])), invalidWith(/not valid/));
  });

  it("parses the legacy repositories file", () => {
    assert.deepEqual(parseRepositories(JSON.stringify({ busybox: { latest: HEX } })), { busybox: { latest: HEX } });
    assert.throws(() => parseRepositories(JSON.stringify({ busybox: "x" })), invalidWith(/repositories is invalid/));
  });

  it("archivePath keeps paths inside the archive", () => {
    assert.equal(archivePath("./a//b/"), "a/b");
    assert.equal(archivePath("/abs/x"), "abs/x");
    assert.throws(() => archivePath("a/../../b"), invalidWith(/not valid/));
    assert.throws(() => archivePath("."), invalidWith(/not valid/));
  });
});

describe("archive: names from OCI annotations", () => {
  it("prefers io.containerd.image.name, accepts full ref.names, ignores bare tags", () => {
    const full = namesFromAnnotations({ "io.containerd.image.name": "docker.io/library/busybox:1.36", "org.opencontainers.image.ref.name": "1.36" });
    assert.deepEqual(full.tags, [{ domain: "docker.io", path: "library/busybox", tag: "1.36" }]);
    assert.deepEqual(namesFromAnnotations({ "org.opencontainers.image.ref.name": "localhost/wh:2" }).tags, [{ domain: "localhost", path: "wh", tag: "2" }]);
    const bare = namesFromAnnotations({ "org.opencontainers.image.ref.name": "latest" });
    assert.deepEqual(bare, { tags: [], ignored: "latest" });
    assert.deepEqual(namesFromAnnotations(undefined), { tags: [] });
  });
});
