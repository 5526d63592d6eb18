import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bigImage, busyboxImage, layoutRoot, multiArchImage, pushLayout, readLayoutBlob, skopeo, toDockerArchive, toOciArchive, whiteoutImage } from "../helpers/fixtures.js";
import { startRegistry } from "../helpers/registry.js";

describe("test helper: fixture images", () => {
  const tmp = mkdtempSync(join(tmpdir(), "berth-fixtures-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("busyboxImage is a valid, reproducible layout", async () => {
    const a = await busyboxImage(join(tmp, "bb1"), { cmd: ["echo", "hi"], env: ["A=1"], extraFiles: { "/etc/motd": "hello\n" } });
    const inspect = JSON.parse((await skopeo(["inspect", `oci:${a.dir}:${a.ref}`])).stdout);
    assert.equal(inspect.Layers.length, 1);
    assert.equal(inspect.Os, "linux");
    const cfg = JSON.parse((await skopeo(["inspect", "--config", `oci:${a.dir}:${a.ref}`])).stdout);
    assert.deepEqual(cfg.config.Cmd, ["echo", "hi"]);
    assert.ok(cfg.config.Env.includes("A=1"));
    const b = await busyboxImage(join(tmp, "bb2"), { cmd: ["echo", "hi"], env: ["A=1"], extraFiles: { "/etc/motd": "hello\n" } });
    assert.deepEqual((await layoutRoot(a)).digest, (await layoutRoot(b)).digest, "same inputs give the same manifest digest");
  });

  it("multiArchImage has an index with two platforms", async () => {
    const l = await multiArchImage(join(tmp, "multi"));
    const raw = JSON.parse((await skopeo(["inspect", "--raw", `oci:${l.dir}:${l.ref}`])).stdout);
    assert.equal(raw.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort(), ["amd64", "arm64"]);
    const configs = new Set<string>();
    for (const m of raw.manifests) configs.add((await readLayoutBlob<{ config: { digest: string } }>(l.dir, m.digest)).config.digest);
    assert.equal(configs.size, 2);
    await skopeo(["inspect", `oci:${l.dir}:${l.ref}`]);
  });

  it("whiteoutImage has two layers", async () => {
    const l = await whiteoutImage(join(tmp, "wh"));
    const inspect = JSON.parse((await skopeo(["inspect", `oci:${l.dir}:${l.ref}`])).stdout);
    assert.equal(inspect.Layers.length, 2);
  });

  it("bigImage has the requested layers and rough size, and is reused when built again", async () => {
    const l = await bigImage(join(tmp, "big"), { layers: 2, totalMB: 4 });
    const inspect = JSON.parse((await skopeo(["inspect", `oci:${l.dir}:${l.ref}`])).stdout);
    assert.equal(inspect.Layers.length, 2);
    const m = await readLayoutBlob<{ layers: { size: number }[] }>(l.dir, (await layoutRoot(l)).digest);
    const total = m.layers.reduce((s, x) => s + x.size, 0);
    assert.ok(total > 3.5 * 2 ** 20 && total < 5 * 2 ** 20, `compressed size ${total}`);
    const before = statSync(join(l.dir, "index.json")).mtimeMs;
    await bigImage(join(tmp, "big"), { layers: 2, totalMB: 4 });
    assert.equal(statSync(join(l.dir, "index.json")).mtimeMs, before);
  });

  for (const mode of ["http", "tls", "basic"] as const) {
    it(`pushLayout pushes a multi-arch index to a ${mode} registry`, async () => {
      const reg = await startRegistry(mode);
      try {
        const l = await multiArchImage(join(tmp, `push-${mode}`));
        const creds = reg.username ? { username: reg.username, password: reg.password! } : undefined;
        await pushLayout(l, { host: reg.host, repo: "public/multi", tag: "v1", tls: mode !== "http", ...(reg.certsDir ? { certDir: reg.certsDir } : {}), ...(creds ? { creds } : {}) });
        const args = ["inspect", "--raw", `--tls-verify=${mode !== "http"}`];
        if (reg.certsDir) args.push("--cert-dir", join(reg.certsDir, reg.host));
        if (creds) args.push("--creds", `${creds.username}:${creds.password}`);
        const raw = JSON.parse((await skopeo([...args, `docker://${reg.host}/public/multi:v1`])).stdout);
        assert.equal(raw.manifests.length, 2);
        assert.equal(raw.manifests[0].digest, (await readLayoutBlob<{ manifests: { digest: string }[] }>(l.dir, (await layoutRoot(l)).digest)).manifests[0]!.digest);
      } finally {
        await reg.stop();
      }
    });
  }

  it("converts to docker-archive and oci-archive", async () => {
    const l = await busyboxImage(join(tmp, "bb3"));
    await toDockerArchive(l, join(tmp, "d.tar"), "fixture/busybox:1");
    const d = JSON.parse((await skopeo(["inspect", `docker-archive:${join(tmp, "d.tar")}`])).stdout);
    assert.equal(d.Layers.length, 1);
    await toOciArchive(l, join(tmp, "o.tar"));
    await skopeo(["inspect", `oci-archive:${join(tmp, "o.tar")}`]);
  });
});
