import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import { BerthError } from "../../src/core/errors.js";
import { importRootfs } from "../../src/image/archive/index.js";
import type { ImageStore } from "../../src/image/store.js";
import { storeFactory } from "../helpers/stores.js";
import { busyboxImage, layoutRoot, readLayoutBlob } from "../helpers/fixtures.js";

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("archive: import", () => {
  const tmp = mkdtempSync(join(tmpdir(), "berth-archive-import-"));
  let rootfs: Buffer;
  const { newStore, closeAll } = storeFactory(tmp);
  before(async () => {
    const l = await busyboxImage(join(tmp, "bb"), { extraFiles: { "/etc/imported": "yes\n" } });
    const m = await readLayoutBlob<{ layers: { digest: string }[] }>(l.dir, (await layoutRoot(l)).digest);
    rootfs = gunzipSync(readFileSync(join(l.dir, "blobs/sha256", m.layers[0]!.digest.slice(7))));
  });
  after(() => {
    closeAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("imports a rootfs tar as a one-layer gzip image with --change values applied", async () => {
    const store = await newStore();
    const img = await importRootfs(store, Readable.from([rootfs]), {
      name: "imported/bb:1",
      changes: ['CMD=["sh","-c","echo hi"]', "ENTRYPOINT=/bin/env", "ENV=A=1", "ENV=B=two words", "WORKDIR=/tmp", "USER=nobody", "LABEL=org.example=yes", "EXPOSE=80/tcp"],
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
      message: "from a test",
    });
    assert.deepEqual(img.tags, ["docker.io/imported/bb:1"]);
    assert.equal(img.layers.length, 1);
    assert.equal(img.layers[0]!.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert.equal(img.layers[0]!.diffId, sha(rootfs));
    assert.deepEqual(img.platform, { os: "linux", architecture: "arm64", variant: "v8" });
    const stored = await store.content.read(img.layers[0]!.blobDigest);
    assert.ok(gunzipSync(stored).equals(rootfs), "the stored blob is the gzip of the input");
    const cfg = await store.readConfig(img.id);
    assert.deepEqual(cfg.config?.Cmd, ["sh", "-c", "echo hi"]);
    assert.deepEqual(cfg.config?.Entrypoint, ["/bin/sh", "-c", "/bin/env"]);
    assert.deepEqual(cfg.config?.Env, ["A=1", "B=two words"]);
    assert.equal(cfg.config?.WorkingDir, "/tmp");
    assert.equal(cfg.config?.User, "nobody");
    assert.deepEqual(cfg.config?.Labels, { "org.example": "yes" });
    assert.deepEqual(cfg.config?.ExposedPorts, { "80/tcp": {} });
    assert.deepEqual(cfg.rootfs.diff_ids, [sha(rootfs)]);
    assert.equal((cfg.history as { created_by: string; comment?: string }[])[0]!.created_by, "import");
    assert.equal((cfg.history as { comment?: string }[])[0]!.comment, "from a test");
    const snap = store.snapshots.get(img.layers[0]!.chainId);
    assert.ok(snap && existsSync(join(snap.dir, "etc/imported")), "the layer was unpacked");
  });

  it("accepts gzip and zstd input and gives the same layer", async () => {
    const store = await newStore();
    const gz = await importRootfs(store, Readable.from([gzipSync(rootfs)]), {});
    const zst = spawnSync("zstd", ["-q", "-c"], { input: rootfs, maxBuffer: 1 << 26 }).stdout;
    const z = await importRootfs(store, Readable.from([zst]), { name: "z:1" });
    assert.equal(gz.layers[0]!.diffId, sha(rootfs));
    assert.equal(z.layers[0]!.blobDigest, gz.layers[0]!.blobDigest);
    assert.deepEqual(gz.tags, []);
    assert.equal(gz.platform.os, "linux");
  });

  const nothingWritten = async (store: ImageStore) => {
    assert.equal(store.list().length, 0);
    await store.prune();
    assert.deepEqual(await store.content.list(), []);
    assert.deepEqual(existsSync(store.content.ingestDir) ? readdirSync(store.content.ingestDir) : [], []);
  };

  it("an invalid change fails before anything is written, naming it", async () => {
    const store = await newStore();
    await assert.rejects(importRootfs(store, Readable.from([rootfs]), { changes: ["ENV=A=1", "RUN=make"] }), (e: unknown) => {
      assert.ok(e instanceof BerthError && e.code === "INVALID_ARGUMENT" && e.message.includes('"RUN=make"'), String(e));
      return true;
    });
    assert.deepEqual(await store.content.list(), []);
    await assert.rejects(importRootfs(store, Readable.from([rootfs]), { name: "Bad:Name!" }), /invalid reference/);
    await nothingWritten(store);
  });

  for (const [what, data] of [
    ["garbage", () => Buffer.from("not a tar\n".repeat(200))],
    ["a truncated tar", () => rootfs.subarray(0, Math.floor(rootfs.length / 2))],
    ["a truncated gzip", () => gzipSync(rootfs).subarray(0, 4000)],
  ] as const) {
    it(`${what} gives a one-line error and leaves no image`, async () => {
      const store = await newStore();
      await assert.rejects(importRootfs(store, Readable.from([data()]), { name: "x:1" }), (e: unknown) => {
        assert.ok(e instanceof BerthError && e.code === "INVALID_ARGUMENT" && !e.message.includes("\n"), String(e));
        assert.match(e.message, /rootfs archive/);
        return true;
      });
      await nothingWritten(store);
    });
  }
});
