import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import * as tar from "tar-stream";
import { BerthError } from "../../src/core/errors.js";
import { loadArchive } from "../../src/image/archive/index.js";
import { storeFactory } from "../helpers/stores.js";
import { busyboxImage, layoutRoot, multiArchImage, readLayoutBlob, toDockerArchive, toOciArchive, whiteoutImage, type Layout } from "../helpers/fixtures.js";

interface Manifest {
  config: { digest: string; size: number };
  layers: { digest: string; size: number; mediaType: string }[];
}

const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function tarOf(entries: { name: string; data?: Buffer | string; type?: "file" | "symlink" | "directory"; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === "symlink") pack.entry({ name: e.name, type: "symlink", linkname: e.linkname! });
    else if (e.type === "directory") pack.entry({ name: e.name, type: "directory" });
    else pack.entry({ name: e.name }, e.data ?? "");
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The parts of a layout's image, with layers decompressed, for crafting archives the way other tools write them. */
async function imageParts(l: Layout) {
  const mdesc = await layoutRoot(l);
  const manifestBytes = readFileSync(join(l.dir, "blobs/sha256", mdesc.digest.slice(7)));
  const m = JSON.parse(manifestBytes.toString()) as Manifest;
  const config = readFileSync(join(l.dir, "blobs/sha256", m.config.digest.slice(7)));
  const layers = m.layers.map((x) => gunzipSync(readFileSync(join(l.dir, "blobs/sha256", x.digest.slice(7)))));
  return { manifestDigest: mdesc.digest, config, configDigest: m.config.digest, layers };
}

function invalidArchive(e: unknown): boolean {
  return e instanceof BerthError && e.code === "INVALID_ARGUMENT" && e.message.startsWith("not a docker-archive or OCI archive: ") && !e.message.includes("\n");
}

describe("archive: load", () => {
  const tmp = mkdtempSync(join(tmpdir(), "berth-archive-load-"));
  let bb: Layout;
  let wh: Layout;
  const { newStore, closeAll } = storeFactory(tmp);
  before(async () => {
    bb = await busyboxImage(join(tmp, "bb"), { cmd: ["echo", "hello"], extraFiles: { "/etc/motd": "archive test\n" } });
    wh = await whiteoutImage(join(tmp, "wh"));
  });
  after(() => {
    closeAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("loads a skopeo docker-archive (.tar, .tar.gz, .tar.zst) with its tags", async () => {
    const file = join(tmp, "bb-docker.tar");
    await toDockerArchive(bb, file, "fixture/busybox:1");
    const { configDigest, layers } = await imageParts(bb);
    const gz = join(tmp, "bb-docker.tar.gz");
    writeFileSync(gz, gzipSync(readFileSync(file)));
    const zst = join(tmp, "bb-docker.tar.zst");
    assert.equal(spawnSync("zstd", ["-q", "-f", file, "-o", zst]).status, 0);
    for (const f of [file, gz, zst]) {
      const store = await newStore();
      const events: string[] = [];
      const [img, ...rest] = await loadArchive(store, createReadStream(f), { onEvent: (m) => events.push(m) });
      assert.equal(rest.length, 0);
      assert.equal(img!.id, configDigest, "image ID is the config digest");
      assert.deepEqual(img!.tags, ["docker.io/fixture/busybox:1"]);
      assert.equal(img!.layers.length, 1);
      assert.equal(img!.layers[0]!.mediaType, "application/vnd.oci.image.layer.v1.tar");
      assert.equal(img!.layers[0]!.diffId, sha(layers[0]!));
      assert.equal(img!.layers[0]!.blobDigest, sha(layers[0]!), "an uncompressed layer is stored as found");
      assert.equal(store.resolve("fixture/busybox:1").id, configDigest);
      const m = await store.readManifest(img!.manifestDigest);
      assert.equal(m.manifest.config.digest, configDigest);
      assert.equal(readdirSync(store.content.ingestDir).length, 0, "no temp files left");
      assert.ok(events.some((e) => e.includes("fixture/busybox:1")));
    }
  });

  it("loading the same docker-archive twice gives the same image and manifest digest", async () => {
    const file = join(tmp, "wh-docker.tar");
    await toDockerArchive(wh, file, "fixture/wh:1");
    const store = await newStore();
    const [a] = await loadArchive(store, createReadStream(file));
    const [b] = await loadArchive(store, createReadStream(file));
    assert.equal(a!.id, b!.id);
    assert.equal(a!.manifestDigest, b!.manifestDigest);
    assert.equal(store.list().length, 1);
    assert.equal(b!.layers.length, 2);
  });

  it("loads a skopeo oci-archive keeping the manifest digest; a full ref.name becomes the tag", async () => {
    const file = join(tmp, "bb-oci.tar");
    await toOciArchive(bb, file, "localhost/fixture/bb:oci");
    const { configDigest, manifestDigest } = await imageParts(bb);
    const store = await newStore();
    const [img] = await loadArchive(store, createReadStream(file));
    assert.equal(img!.id, configDigest);
    assert.equal(img!.manifestDigest, manifestDigest);
    assert.deepEqual(img!.tags, ["localhost/fixture/bb:oci"]);
    assert.equal(img!.layers[0]!.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
  });

  it("an oci-archive named only by a bare tag loads untagged, with an event saying so", async () => {
    const file = join(tmp, "bb-oci-bare.tar");
    await toOciArchive(bb, file, "latest");
    const store = await newStore();
    const events: string[] = [];
    const [img] = await loadArchive(store, createReadStream(file), { onEvent: (m) => events.push(m) });
    assert.deepEqual(img!.tags, []);
    assert.ok(events.some((e) => e.includes('"latest" is not an image name')), events.join("; "));
    assert.equal(store.resolve(img!.id).id, img!.id);
  });

  it("picks the host platform from a multi-arch OCI archive", async () => {
    const multi = await multiArchImage(join(tmp, "multi"));
    const dir = join(tmp, "multi-copy");
    // An OCI archive of the whole index, as `skopeo copy --all` writes it.
    const { skopeo } = await import("../helpers/fixtures.js");
    await skopeo(["copy", "--all", "--quiet", `oci:${multi.dir}:${multi.ref}`, `oci:${dir}:docker.io/fixture/multi:1`]);
    const idx = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    idx.manifests[0].annotations["io.containerd.image.name"] = "docker.io/fixture/multi:1";
    writeFileSync(join(dir, "index.json"), JSON.stringify(idx));
    const entries = [{ name: "oci-layout", data: readFileSync(join(dir, "oci-layout")) }, { name: "index.json", data: readFileSync(join(dir, "index.json")) }];
    for (const f of readdirSync(join(dir, "blobs/sha256"))) entries.push({ name: `blobs/sha256/${f}`, data: readFileSync(join(dir, "blobs/sha256", f)) });
    const file = join(tmp, "multi.tar");
    writeFileSync(file, await tarOf(entries));
    const store = await newStore();
    const [img] = await loadArchive(store, createReadStream(file));
    const host = process.arch === "arm64" ? "arm64" : "amd64";
    assert.equal(img!.platform.architecture, host);
    assert.deepEqual(img!.tags, ["docker.io/fixture/multi:1"]);
    const inner = await readLayoutBlob<{ manifests: { digest: string; platform: { architecture: string } }[] }>(multi.dir, (await layoutRoot(multi)).digest);
    assert.equal(img!.manifestDigest, inner.manifests.find((m) => m.platform.architecture === host)!.digest);
  });

  it("loads the classic docker save form: <id>/layer.tar files, names from repositories", async () => {
    const { config, configDigest, layers } = await imageParts(wh);
    const ids = ["1".repeat(64), "2".repeat(64)];
    const manifest = [{ Config: `${configDigest.slice(7)}.json`, RepoTags: null, Layers: ids.map((id) => `${id}/layer.tar`) }];
    const file = join(tmp, "docker-save.tar");
    writeFileSync(
      file,
      await tarOf([
        ...ids.flatMap((id, i) => [
          { name: `${id}/`, type: "directory" as const },
          { name: `${id}/VERSION`, data: "1.0" },
          { name: `${id}/json`, data: JSON.stringify({ id }) },
          { name: `${id}/layer.tar`, data: layers[i]! },
        ]),
        { name: `${configDigest.slice(7)}.json`, data: config },
        { name: "manifest.json", data: JSON.stringify(manifest) },
        { name: "repositories", data: JSON.stringify({ "fixture/legacy": { v1: ids[1] } }) },
      ]),
    );
    const store = await newStore();
    const [img] = await loadArchive(store, createReadStream(file));
    assert.equal(img!.id, configDigest);
    assert.deepEqual(img!.tags, ["docker.io/fixture/legacy:v1"]);
    assert.deepEqual(img!.layers.map((l) => l.diffId), layers.map((l) => sha(l)));
  });

  it("loads Docker 25+'s combined OCI + manifest.json form, with names from both", async () => {
    const { config, configDigest, layers } = await imageParts(wh);
    const layerDescs = layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(l), size: l.length }));
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length }, layers: layerDescs });
    const mdigest = sha(manifest);
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: mdigest, size: manifest.length, annotations: { "io.containerd.image.name": "docker.io/library/wh:25", "org.opencontainers.image.ref.name": "25" } }],
    };
    const dockerManifest = [{ Config: `blobs/sha256/${configDigest.slice(7)}`, RepoTags: ["wh:25", "wh:also"], Layers: layerDescs.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }];
    const file = join(tmp, "docker25.tar");
    writeFileSync(
      file,
      await tarOf([
        { name: "blobs/", type: "directory" },
        { name: "blobs/sha256/", type: "directory" },
        ...layers.map((l) => ({ name: `blobs/sha256/${sha(l).slice(7)}`, data: l })),
        { name: `blobs/sha256/${configDigest.slice(7)}`, data: config },
        { name: `blobs/sha256/${mdigest.slice(7)}`, data: manifest },
        { name: "index.json", data: JSON.stringify(index) },
        { name: "manifest.json", data: JSON.stringify(dockerManifest) },
        { name: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' },
        { name: "repositories", data: JSON.stringify({ wh: { "25": "x" } }) },
      ]),
    );
    const store = await newStore();
    const [img] = await loadArchive(store, createReadStream(file));
    assert.equal(img!.id, configDigest);
    assert.equal(img!.manifestDigest, mdigest, "the archive's own OCI manifest is used");
    assert.deepEqual(img!.tags, ["docker.io/library/wh:25", "docker.io/library/wh:also"]);
  });

  it("follows skopeo's legacy symlinks and loads several images from one archive", async () => {
    const a = await imageParts(bb);
    const b = await imageParts(wh);
    const entries: { name: string; data?: Buffer | string; type?: "file" | "symlink" | "directory"; linkname?: string }[] = [];
    const manifest = [];
    for (const [img, tag] of [[a, "multi/a:1"], [b, "multi/b:1"]] as const) {
      const paths = [];
      for (const [i, l] of img.layers.entries()) {
        const id = sha(`${tag}${i}`).slice(7);
        entries.push({ name: `${sha(l).slice(7)}.tar`, data: l }, { name: `${id}/layer.tar`, type: "symlink", linkname: `../${sha(l).slice(7)}.tar` });
        paths.push(`${id}/layer.tar`);
      }
      entries.push({ name: `${img.configDigest.slice(7)}.json`, data: img.config });
      manifest.push({ Config: `${img.configDigest.slice(7)}.json`, RepoTags: [tag], Layers: paths });
    }
    entries.push({ name: "manifest.json", data: JSON.stringify(manifest) });
    const file = join(tmp, "two.tar");
    writeFileSync(file, await tarOf(entries));
    const store = await newStore();
    const imgs = await loadArchive(store, createReadStream(file));
    assert.deepEqual(imgs.map((i) => i.tags[0]), ["docker.io/multi/a:1", "docker.io/multi/b:1"]);
    assert.deepEqual(imgs.map((i) => i.id), [a.configDigest, b.configDigest]);
  });

  it("accepts gzip-compressed layers inside a docker-archive and keeps them compressed", async () => {
    const { config, configDigest, layers } = await imageParts(bb);
    const gzLayer = gzipSync(layers[0]!);
    const file = join(tmp, "gzlayer.tar");
    writeFileSync(
      file,
      await tarOf([
        { name: "layer.tar.gz", data: gzLayer },
        { name: "config.json", data: config },
        { name: "manifest.json", data: JSON.stringify([{ Config: "config.json", RepoTags: ["gz/layer:1"], Layers: ["layer.tar.gz"] }]) },
      ]),
    );
    const store = await newStore();
    const [img] = await loadArchive(store, createReadStream(file));
    assert.equal(img!.id, configDigest);
    assert.equal(img!.layers[0]!.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert.equal(img!.layers[0]!.blobDigest, sha(gzLayer));
  });

  describe("bad input: one-line error, nothing left behind", () => {
    const cases: [string, () => Promise<Buffer>][] = [
      ["garbage", async () => Buffer.from("this is not an archive at all\n".repeat(100))],
      ["empty input", async () => Buffer.alloc(0)],
      ["gzip of garbage", async () => gzipSync(Buffer.from("hello world".repeat(100)))],
      ["xz data", async () => Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(600)])],
      ["a tar with neither manifest.json nor index.json", async () => tarOf([{ name: "hello.txt", data: "hi" }])],
      ["a truncated docker-archive", async () => {
        const f = join(tmp, "trunc-src.tar");
        await toDockerArchive(bb, f, "trunc/x:1");
        const all = readFileSync(f);
        return all.subarray(0, Math.floor(all.length / 2));
      }],
      ["a truncated gzip docker-archive", async () => {
        const f = join(tmp, "trunc-src2.tar");
        await toDockerArchive(bb, f, "trunc/x:1");
        const all = gzipSync(readFileSync(f));
        return all.subarray(0, Math.floor(all.length * 0.7));
      }],
      ["a truncated zstd docker-archive", async () => {
        const f = join(tmp, "trunc-src3.tar");
        await toDockerArchive(bb, f, "trunc/x:1");
        const z = spawnSync("zstd", ["-q", "-c", f], { maxBuffer: 1 << 26 }).stdout;
        return z.subarray(0, Math.floor(z.length * 0.7));
      }],
      ["a docker-archive whose layer does not match the config's diff_id", async () => {
        const { config } = await imageParts(bb);
        return tarOf([
          { name: "l.tar", data: await tarOf([{ name: "x", data: "x" }]) },
          { name: "c.json", data: config },
          { name: "manifest.json", data: JSON.stringify([{ Config: "c.json", RepoTags: ["bad/diff:1"], Layers: ["l.tar"] }]) },
        ]);
      }],
      ["an OCI archive with a corrupt blob", async () => {
        const dir = join(tmp, "corrupt");
        const l = await busyboxImage(dir);
        const root = await layoutRoot(l);
        const m = await readLayoutBlob<Manifest>(dir, root.digest);
        const entries = [{ name: "oci-layout", data: readFileSync(join(dir, "oci-layout")) }, { name: "index.json", data: readFileSync(join(dir, "index.json")) }];
        for (const f of readdirSync(join(dir, "blobs/sha256"))) {
          const data = readFileSync(join(dir, "blobs/sha256", f));
          if (`sha256:${f}` === m.layers[0]!.digest) data[data.length - 100]! ^= 0xff;
          entries.push({ name: `blobs/sha256/${f}`, data });
        }
        return tarOf(entries);
      }],
      ["a manifest.json that is not valid", async () => tarOf([{ name: "manifest.json", data: '[{"Config": 3}]' }])],
    ];
    for (const [what, make] of cases) {
      it(what, async () => {
        const store = await newStore();
        const data = await make();
        await assert.rejects(loadArchive(store, Readable.from([data])), (e: unknown) => {
          assert.ok(invalidArchive(e), String((e as Error).stack));
          return true;
        });
        assert.equal(store.list().length, 0, "no image");
        await store.prune();
        assert.deepEqual(await store.content.list(), [], "no blobs after prune");
        assert.deepEqual(readdirSync(store.content.ingestDir), [], "no temp files");
        assert.equal(statSync(store.content.ingestDir).isDirectory(), true);
      });
    }
  });
});
