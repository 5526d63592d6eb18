import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import { blobDataPath, pushBlob, pushImage, startRegistry, type RegistryMode, type TestRegistry } from "../helpers/registry.js";

function get(reg: TestRegistry, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const mod = reg.url.startsWith("https:") ? https : http;
    const req = mod.request(`${reg.url}${path}`, { headers, ca: reg.caPath ? readFileSync(reg.caPath) : undefined, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("test helper: startRegistry", () => {
  const regs: TestRegistry[] = [];
  after(async () => {
    for (const r of regs) await r.stop();
  });
  for (const mode of ["http", "tls", "basic", "token"] as RegistryMode[]) {
    it(`starts in ${mode} mode, pushes, and stops cleanly`, async () => {
      const reg = await startRegistry(mode);
      regs.push(reg);
      assert.match(reg.host, /^127\.0\.0\.1:\d+$/);
      if (mode !== "http") assert.ok(reg.caPath && existsSync(reg.caPath) && reg.caPath.startsWith(reg.certsDir!) && reg.caPath.includes(reg.host));
      const blob = await pushBlob(reg, "public/x", "hello");
      assert.ok(existsSync(blobDataPath(reg, blob.digest)));
      const img = await pushImage(reg, "public/img", "v1", { layers: [Buffer.from("layer")] });
      assert.equal(img.layers.length, 1);
      const r = await get(reg, "/v2/");
      assert.equal(r.status, mode === "basic" || mode === "token" ? 401 : 200);
      const dir = reg.storageDir;
      await reg.stop();
      assert.equal(existsSync(dir), false);
    });
  }
});
