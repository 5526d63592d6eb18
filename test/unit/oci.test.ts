import assert from "node:assert/strict";
import { test } from "node:test";
import { layerCompression, MediaType, parseImageConfig, parseManifestBytes } from "../../src/core/oci.js";

const d = (c: string) => "sha256:" + c.repeat(64);

test("classifies manifests by content type, mediaType field, then shape", () => {
  const m = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: d("1"), size: 2 }, layers: [] };
  assert.equal(parseManifestBytes(JSON.stringify(m)).kind, "manifest");
  const idx = { schemaVersion: 2, manifests: [{ mediaType: MediaType.OciManifest, digest: d("2"), size: 3, platform: { os: "linux", architecture: "amd64" } }] };
  assert.equal(parseManifestBytes(JSON.stringify(idx)).kind, "index");
  assert.equal(parseManifestBytes(JSON.stringify(idx), `${MediaType.DockerManifestList}; charset=utf-8`).mediaType, MediaType.DockerManifestList);
});

test("rejects schema 1, bad JSON and bad digests with clear messages", () => {
  assert.throws(() => parseManifestBytes(JSON.stringify({ schemaVersion: 1, fsLayers: [] })), /schema 1/);
  assert.throws(() => parseManifestBytes("{nope"), /not valid JSON/);
  const bad = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: "sha256:xyz", size: 2 }, layers: [] };
  assert.throws(() => parseManifestBytes(JSON.stringify(bad)), /config\.digest: invalid digest/);
  assert.throws(() => parseManifestBytes(JSON.stringify({ schemaVersion: 2, mediaType: "application/x-foo" })), /unsupported manifest media type/);
});

test("layer compression from media types", () => {
  assert.equal(layerCompression(MediaType.DockerLayerGzip), "gzip");
  assert.equal(layerCompression(MediaType.OciLayerGzip), "gzip");
  assert.equal(layerCompression(MediaType.OciLayerZstd), "zstd");
  assert.equal(layerCompression(MediaType.OciLayer), "none");
  assert.throws(() => layerCompression("application/vnd.in-toto+json"), /unsupported layer media type/);
});

test("image config validation", () => {
  const c = parseImageConfig(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [d("3")] }, config: { Cmd: ["sh"], Env: null } }));
  assert.deepEqual(c.config?.Cmd, ["sh"]);
  assert.throws(() => parseImageConfig(JSON.stringify({ os: "linux", rootfs: { type: "layers", diff_ids: [] } })), /architecture/);
});
