import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { PassThrough, Readable } from "node:stream";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { gunzipSync } from "node:zlib";
import * as tar from "tar-stream";
import { loadArchive, saveArchive } from "../../src/image/archive/index.js";
import type { ImageStore } from "../../src/image/store.js";
import { storeFactory } from "../helpers/stores.js";
import type { ImageRecord } from "../../src/image/types.js";
import { busyboxImage, layoutRoot, skopeo, toDockerArchive, toOciArchive, whiteoutImage, type Layout } from "../helpers/fixtures.js";

async function save(store: ImageStore, names: string[], file: string, format: "docker-archive" | "oci-archive", gzip = false): Promise<void> {
  const out = createWriteStream(file);
  await saveArchive(store, names, out, { format, gzip });
  await finished(out);
}

async function members(file: string): Promise<Map<string, Buffer>> {
  let data = readFileSync(file);
  if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
  const ex = tar.extract();
  const out = new Map<string, Buffer>();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.set(e.header.name, Buffer.concat(chunks));
    }
  })();
  ex.end(data);
  await done;
  return out;
}

describe("archive: save", () => {
  const tmp = mkdtempSync(join(tmpdir(), "berth-archive-save-"));
  let store: ImageStore;
  let bb: Layout;
  let bbImg: ImageRecord;
  let whImg: ImageRecord;
  const { newStore, closeAll } = storeFactory(tmp);
  before(async () => {
    store = await newStore();
    bb = await busyboxImage(join(tmp, "bb"), { cmd: ["echo", "saved"] });
    // Loaded from an OCI archive: its layers are stored gzip-compressed, as after a pull.
    await toOciArchive(bb, join(tmp, "bb.oci.tar"), "docker.io/fixture/bb:1");
    [bbImg] = await loadArchive(store, createReadStream(join(tmp, "bb.oci.tar")));
    store.tag("fixture/bb:1", "fixture/bb:2");
    const wh = await whiteoutImage(join(tmp, "wh"));
    await toDockerArchive(wh, join(tmp, "wh.docker.tar"), "fixture/wh:1");
    [whImg] = await loadArchive(store, createReadStream(join(tmp, "wh.docker.tar")));
  });
  after(() => {
    closeAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const gzip of [false, true]) {
    it(`docker-archive${gzip ? " (gzip)" : ""}: skopeo reads it, and it loads back with the same image ID`, async () => {
      const file = join(tmp, `save-docker${gzip ? ".tar.gz" : ".tar"}`);
      await save(store, ["fixture/bb:1", "fixture/wh:1"], file, "docker-archive", gzip);
      const m = await members(file);
      const manifest = JSON.parse(m.get("manifest.json")!.toString());
      assert.deepEqual(manifest.map((x: { RepoTags: string[] }) => x.RepoTags), [["fixture/bb:1"], ["fixture/wh:1"]]);
      assert.equal(manifest[0].Config, `${bbImg.id.slice(7)}.json`);
      assert.deepEqual(manifest[0].Layers, bbImg.layers.map((l) => `${l.diffId.slice(7)}.tar`), "layers stored uncompressed, named by diff_id");
      const repos = JSON.parse(m.get("repositories")!.toString());
      assert.deepEqual(Object.keys(repos).sort(), ["fixture/bb", "fixture/wh"]);

      // skopeo 1.9's docker-archive transport reads only plain tars (docker load takes gzip): gunzip for it.
      const plain = gzip ? join(tmp, "save-docker-gunzipped.tar") : file;
      if (gzip) writeFileSync(plain, gunzipSync(readFileSync(file)));
      const inspect = JSON.parse((await skopeo(["inspect", `docker-archive:${plain}:fixture/bb:1`])).stdout);
      assert.equal(inspect.Layers.length, 1);
      const cfg = JSON.parse((await skopeo(["inspect", "--config", `docker-archive:${plain}:fixture/wh:1`])).stdout);
      assert.deepEqual(cfg.rootfs.diff_ids, whImg.layers.map((l) => l.diffId));
      const copyDir = join(tmp, `copy-docker-${gzip}`);
      await skopeo(["copy", "--quiet", `docker-archive:${plain}:fixture/wh:1`, `oci:${copyDir}:x`]);
      const copied = JSON.parse((await skopeo(["inspect", "--config", `oci:${copyDir}:x`])).stdout);
      assert.deepEqual(copied.rootfs.diff_ids, whImg.layers.map((l) => l.diffId), "skopeo copied the layers intact");

      const fresh = await newStore();
      const loaded = await loadArchive(fresh, createReadStream(file));
      assert.deepEqual(loaded.map((i) => i.id), [bbImg.id, whImg.id]);
      assert.deepEqual(loaded.map((i) => i.tags), [["docker.io/fixture/bb:1"], ["docker.io/fixture/wh:1"]]);
    });

    it(`oci-archive${gzip ? " (gzip)" : ""}: skopeo reads it, and it loads back with the same image ID and manifest digest`, async () => {
      const file = join(tmp, `save-oci${gzip ? ".tar.gz" : ".tar"}`);
      await save(store, ["fixture/bb:2"], file, "oci-archive", gzip);
      const m = await members(file);
      const index = JSON.parse(m.get("index.json")!.toString());
      assert.equal(index.manifests.length, 1);
      assert.equal(index.manifests[0].digest, bbImg.manifestDigest);
      assert.deepEqual(index.manifests[0].annotations, { "io.containerd.image.name": "docker.io/fixture/bb:2", "org.opencontainers.image.ref.name": "2" });
      assert.ok(m.has("oci-layout"));

      if (!gzip) {
        const inspect = JSON.parse((await skopeo(["inspect", `oci-archive:${file}`])).stdout);
        assert.equal(inspect.Digest, bbImg.manifestDigest);
      } else {
        // skopeo's oci-archive transport needs a plain tar; check the content after gunzip.
        const plain = join(tmp, "save-oci-gunzipped.tar");
        writeFileSync(plain, gunzipSync(readFileSync(file)));
        const inspect = JSON.parse((await skopeo(["inspect", `oci-archive:${plain}`])).stdout);
        assert.equal(inspect.Digest, bbImg.manifestDigest);
      }

      const fresh = await newStore();
      const [img] = await loadArchive(fresh, createReadStream(file));
      assert.equal(img!.id, bbImg.id);
      assert.equal(img!.manifestDigest, bbImg.manifestDigest);
      assert.equal(img!.manifestDigest, (await layoutRoot(bb)).digest, "the manifest is the original one");
      assert.deepEqual(img!.tags, ["docker.io/fixture/bb:2"]);
    });
  }

  it("oci-archive with several images and names: one index entry per name, blobs once", async () => {
    const file = join(tmp, "multi-oci.tar");
    await save(store, ["fixture/bb:1", "fixture/bb:2", "fixture/wh:1", bbImg.id], file, "oci-archive");
    const m = await members(file);
    const index = JSON.parse(m.get("index.json")!.toString());
    assert.deepEqual(index.manifests.map((d: { annotations?: Record<string, string> }) => d.annotations?.["io.containerd.image.name"]), ["docker.io/fixture/bb:1", "docker.io/fixture/bb:2", "docker.io/fixture/wh:1"]);
    const blobs = [...m.keys()].filter((k) => k.startsWith("blobs/sha256/") && k.length > 13);
    assert.equal(new Set(blobs).size, blobs.length);
    const fresh = await newStore();
    const loaded = await loadArchive(fresh, createReadStream(file));
    assert.equal(fresh.list().length, 2);
    assert.deepEqual(fresh.resolve("fixture/bb:2").id, bbImg.id);
    assert.deepEqual(fresh.resolve("fixture/wh:1").manifestDigest, whImg.manifestDigest);
    assert.equal(loaded.length, 2);
  });

  it("zstd layers are decompressed for a docker-archive and kept as stored in an oci-archive", async () => {
    // A docker-archive whose layer is zstd-compressed loads as a +zstd layer.
    const m = await members(join(tmp, "wh.docker.tar"));
    const manifest = JSON.parse(m.get("manifest.json")!.toString());
    const pack = tar.pack();
    const layers: string[] = [];
    for (const path of manifest[0].Layers as string[]) {
      const z = spawnSync("zstd", ["-q", "-c"], { input: m.get(path)!, maxBuffer: 1 << 26 }).stdout;
      pack.entry({ name: `${path}.zst` }, z);
      layers.push(`${path}.zst`);
    }
    pack.entry({ name: manifest[0].Config }, m.get(manifest[0].Config)!);
    pack.entry({ name: "manifest.json" }, JSON.stringify([{ Config: manifest[0].Config, RepoTags: ["fixture/zst:1"], Layers: layers }]));
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const fresh = await newStore();
    const [img] = await loadArchive(fresh, Readable.from([Buffer.concat(chunks)]));
    assert.equal(img!.id, whImg.id);
    assert.deepEqual(img!.layers.map((l) => l.mediaType), ["application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.v1.tar+zstd"]);
    const file = join(tmp, "zst-docker.tar");
    await save(fresh, ["fixture/zst:1"], file, "docker-archive");
    const cfg = JSON.parse((await skopeo(["inspect", "--config", `docker-archive:${file}`])).stdout);
    assert.deepEqual(cfg.rootfs.diff_ids, whImg.layers.map((l) => l.diffId));
    const saved = await members(file);
    for (const l of whImg.layers) assert.ok(saved.has(`${l.diffId.slice(7)}.tar`));
    const ofile = join(tmp, "zst-oci.tar");
    await save(fresh, ["fixture/zst:1"], ofile, "oci-archive");
    const inspect = JSON.parse((await skopeo(["inspect", `oci-archive:${ofile}`])).stdout);
    assert.equal(inspect.Digest, img!.manifestDigest);
  });

  it("saving by ID writes no names; saving twice gives identical bytes", async () => {
    const a = join(tmp, "byid-a.tar");
    const b = join(tmp, "byid-b.tar");
    await save(store, [whImg.id.slice(7, 19)], a, "docker-archive");
    await save(store, [whImg.id], b, "docker-archive");
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    const manifest = JSON.parse((await members(a)).get("manifest.json")!.toString());
    assert.deepEqual(manifest[0].RepoTags, []);
    const fresh = await newStore();
    const [img] = await loadArchive(fresh, createReadStream(a));
    assert.equal(img!.id, whImg.id);
    assert.deepEqual(img!.tags, []);
  });

  it("an unknown name fails before anything is written", async () => {
    const out = new PassThrough();
    let bytes = 0;
    out.on("data", (c: Buffer) => (bytes += c.length));
    await assert.rejects(saveArchive(store, ["fixture/bb:1", "no/such:image"], out, { format: "docker-archive" }), /not found/);
    assert.equal(bytes, 0);
  });
});
