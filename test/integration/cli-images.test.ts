/** Local image management through the CLI: tag, rmi, prune, save/load/import, --export, and progress output. */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { pack } from "tar-stream";
import { BERTH, Sandbox } from "../helpers/cli.js";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { busyboxImage, pushLayout } from "../helpers/fixtures.js";

const work = mkdtempSync(join(tmpdir(), "berth-it-img-"));
const sandboxes: Sandbox[] = [];
const sandbox = () => {
  const s = new Sandbox();
  sandboxes.push(s);
  return s;
};
let reg: TestRegistry;
let ref: string;
before(async () => {
  reg = await startRegistry("http");
  await pushLayout(await busyboxImage(join(work, "bb")), { host: reg.host, repo: "lib/busybox", tag: "1", tls: false });
  ref = `${reg.host}/lib/busybox:1`;
});
after(async () => {
  await reg?.stop();
  sandboxes.forEach((s) => s.cleanup());
  rmSync(work, { recursive: true, force: true });
});

const inspect = (s: Sandbox, name: string) => JSON.parse(s.ok(["image", "inspect", name]))[0];

describe("tags and removal", () => {
  test("tag, rmi by tag untags; rmi by ID needs -f with several tags; prune reclaims", () => {
    const s = sandbox();
    s.ok(["pull", "-q", ref]);
    const id = inspect(s, ref).Id as string;
    s.ok(["tag", ref, "mine:a", "other/mine:b"]);
    assert.deepEqual(inspect(s, "mine:a").RepoTags.sort(), [ref, "mine:a", "other/mine:b"].sort());
    assert.equal(s.run(["tag", ref, `x@sha256:${"a".repeat(64)}`]).code, 125);
    assert.match(s.ok(["rmi", "mine:a"]), /^Untagged: mine:a\n$/);
    const refused = s.run(["rmi", id.slice(7, 19)]);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /referenced by 2 tags/);
    const blobsBefore = s.blobs().length;
    assert.ok(blobsBefore >= 3);
    const out = s.ok(["rmi", "-f", id.slice(7, 19)]);
    assert.match(out, /Deleted: sha256:/);
    assert.equal(s.ok(["images", "-q", "-a"]), "");
    // rmi collects the image's blobs and snapshots at once; prune then finds nothing.
    assert.deepEqual(s.blobs(), []);
    assert.deepEqual(s.snapshotDirs(), []);
    assert.match(s.ok(["image", "prune"]), /Removed 0 blobs and 0 snapshots/);
  });

  test("an ambiguous or unknown ID prefix is a clear error", () => {
    const s = sandbox();
    assert.match(s.run(["rmi", "abcdef"]).stderr, /image "abcdef" not found/);
  });
});

describe("archives", () => {
  test("save -> load round trip keeps the ID (docker-archive) and the manifest digest (oci-archive)", () => {
    const s = sandbox();
    s.ok(["pull", "-q", ref]);
    const before = inspect(s, ref);
    const dockerTar = join(s.dir, "img.tar");
    const ociTgz = join(s.dir, "img-oci.tar.gz");
    s.ok(["save", "-o", dockerTar, ref]);
    s.ok(["save", "--format", "oci-archive", "-o", ociTgz, ref]);
    execFileSync("skopeo", ["inspect", `docker-archive:${dockerTar}`], { stdio: "ignore" });
    s.ok(["rmi", ref]);
    assert.match(s.ok(["load", "-i", dockerTar]), new RegExp(`Loaded image: ${ref}`));
    assert.equal(inspect(s, ref).Id, before.Id);
    s.ok(["rmi", ref]);
    s.ok(["load", "-i", ociTgz]);
    const after = inspect(s, ref);
    assert.equal(after.Id, before.Id);
    assert.equal(after.ManifestDigest, before.ManifestDigest);
    // stdin works too, and garbage is one clear line with nothing left behind.
    const t = sandbox();
    const r = spawnSync(BERTH, t.args(["load"]), { input: Buffer.from("this is not a tar archive at all".repeat(40)), encoding: "utf8" });
    assert.equal(r.status, 125);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(t.ok(["images", "-q", "-a"]), "");
    assert.equal(t.run(["load", "-i", join(t.dir, "missing.tar")]).stderr.includes("missing.tar"), true);
  });

  test("pull --export writes an archive skopeo reads; .gz exports load back", () => {
    const s = sandbox();
    const out = join(s.dir, "exported.tar");
    s.ok(["pull", "-q", "--export", out, ref]);
    const info = JSON.parse(execFileSync("skopeo", ["inspect", `docker-archive:${out}`], { encoding: "utf8" }));
    assert.equal(info.Architecture, "amd64");
    const gz = join(s.dir, "exported.tar.gz");
    s.ok(["pull", "-q", "--export", gz, ref]);
    const t = sandbox();
    assert.match(t.ok(["load", "-i", gz]), new RegExp(`Loaded image: ${ref}`));
  });

  test("import makes a one-layer image with --change values", async () => {
    const s = sandbox();
    const p = pack();
    p.entry({ name: "etc/hostname", mode: 0o644 }, "imported\n");
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const file = join(s.dir, "rootfs.tar.gz");
    writeFileSync(file, gzipSync(Buffer.concat(chunks)));
    const id = s.ok(["import", "--change", 'CMD ["/bin/sh", "-c", "echo hi"]', "--change", "ENV=A=1", "--change", "WORKDIR=/srv", file, "imported:1"]).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const doc = inspect(s, "imported:1");
    assert.equal(doc.Id, id);
    assert.deepEqual(doc.Config.Cmd, ["/bin/sh", "-c", "echo hi"]);
    assert.ok(doc.Config.Env.includes("A=1"));
    assert.equal(doc.Config.WorkingDir, "/srv");
    assert.equal(doc.RootFS.Layers.length, 1);
    const bad = s.run(["import", "--change", "FROBNICATE=1", file, "bad:1"]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /FROBNICATE/);
    assert.equal(s.run(["image", "inspect", "bad:1"]).code, 125);
  });
});

describe("progress output", () => {
  test("a terminal gets progress bars; a pipe gets one line per layer event", async () => {
    const big = Buffer.alloc(24 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const p = pack();
    p.entry({ name: "big.bin", mode: 0o644 }, big);
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    await pushImage(reg, "lib/progress", "1", { layers: [gzipSync(Buffer.concat(chunks), { level: 1 })] });
    const s = sandbox();
    const cmd = [BERTH, ...s.args(["pull", `${reg.host}/lib/progress:1`])].map((a) => `'${a}'`).join(" ");
    const tty = spawnSync("script", ["-qefc", cmd, "/dev/null"], { encoding: "utf8", env: { ...process.env, COLUMNS: "120", LINES: "40" } });
    assert.equal(tty.status, 0, tty.stdout + tty.stderr);
    assert.match(tty.stdout, /\x1b\[/, "no terminal control sequences");
    assert.match(tty.stdout, /\[[= >]{10,}\]/, "no bar");
    assert.match(tty.stdout, /Pull complete/);
    const t = sandbox();
    const piped = t.ok(["pull", `${reg.host}/lib/progress:1`]);
    assert.ok(!piped.includes("\x1b"), "control sequences in piped output");
    const layerLines = piped.split("\n").filter((l) => /^[0-9a-f]{12}: /.test(l));
    assert.deepEqual(
      layerLines.map((l) => l.replace(/^[0-9a-f]{12}: /, "").replace(/ [\d.]+[kMG]?B$/, "")),
      ["Waiting", "Downloading", "Verifying", "Pull complete"],
    );
  });
});
