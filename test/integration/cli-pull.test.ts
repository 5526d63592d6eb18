/**
 * The image CLI end to end against real docker-registry instances: pull in every registry mode, platform
 * selection, the store's view afterwards, and what failures leave behind (nothing).
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { pack } from "tar-stream";
import { BERTH, Sandbox } from "../helpers/cli.js";
import { blobDataPath, pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { busyboxImage, multiArchImage, pushLayout, whiteoutImage } from "../helpers/fixtures.js";

interface Entry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
}

async function layer(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? "file", mode: e.mode ?? (e.type === "directory" ? 0o755 : 0o644), ...(e.linkname ? { linkname: e.linkname } : {}) }, e.content ?? "");
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const sandboxes: Sandbox[] = [];
const sandbox = () => {
  const s = new Sandbox();
  sandboxes.push(s);
  return s;
};
const work = mkdtempSync(join(tmpdir(), "berth-it-pull-"));
after(() => {
  sandboxes.forEach((s) => s.cleanup());
  rmSync(work, { recursive: true, force: true });
});

/** Start a pull, send `signal` as soon as it reports a download, and wait for it to end. */
async function pullThenSignal(s: Sandbox, ref: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(BERTH, s.args(["pull", ref]));
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const closed = new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  await new Promise<void>((res) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      if (/Downloading/.test(buf)) res();
    });
    void closed.then(() => res());
  });
  child.kill(signal);
  return { code: await closed, stderr };
}

const oneLine = (s: string) => s.trim().split("\n").length === 1;

describe("pull over plain HTTP on loopback", () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry("http");
    await pushLayout(await busyboxImage(join(work, "bb")), { host: reg.host, repo: "lib/busybox", tag: "1.0", tls: false });
    await pushLayout(await multiArchImage(join(work, "multi")), { host: reg.host, repo: "lib/multi", tag: "latest", tls: false });
    await pushLayout(await whiteoutImage(join(work, "wh")), { host: reg.host, repo: "lib/whiteout", tag: "latest", tls: false });
  });
  after(async () => reg?.stop());

  test("pull, list, inspect: the image is unpacked into snapshots", () => {
    const s = sandbox();
    const out = s.ok(["pull", `${reg.host}/lib/busybox:1.0`]);
    assert.match(out, /Pull complete|Already exists/);
    assert.match(out, new RegExp(`${reg.host}/lib/busybox:1.0\\n$`));
    const list = s.ok(["images"]);
    assert.match(list, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
    assert.match(list, new RegExp(`${reg.host}/lib/busybox\\s+1\\.0\\s+[0-9a-f]{12}\\s`));
    const [doc] = JSON.parse(s.ok(["image", "inspect", `${reg.host}/lib/busybox:1.0`]));
    assert.match(doc.Id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(doc.Os, "linux");
    assert.equal(doc.Architecture, "amd64");
    assert.equal(doc.RootFS.Type, "layers");
    assert.equal(doc.RootFS.Layers.length, 1);
    assert.ok(doc.Size > 500_000, `size ${doc.Size}`);
    assert.deepEqual(doc.RepoTags, [`${reg.host}/lib/busybox:1.0`]);
    assert.match(doc.RepoDigests[0], new RegExp(`^${reg.host}/lib/busybox@sha256:`));
    const lower = doc.GraphDriver.Data.LowerDir as string;
    assert.ok(statSync(join(lower, "bin", "busybox")).size > 500_000);
    // Quiet pull and --format json agree on the ID; a second pull reuses everything.
    assert.equal(s.ok(["pull", "-q", `${reg.host}/lib/busybox:1.0`]).trim(), doc.Id);
    const json = JSON.parse(s.ok(["images", "--format", "json"]));
    assert.equal(json.length, 1);
    assert.equal(json[0].Id, doc.Id);
    assert.equal(s.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]).trim(), `${reg.host}/lib/busybox:1.0`);
    assert.match(s.ok(["images", "--digests"]), /DIGEST[\s\S]*sha256:[0-9a-f]{64}/);
    // By digest: no tag, found by repo@digest.
    const byDigest = `${reg.host}/lib/busybox@${doc.RepoDigests[0].split("@")[1]}`;
    assert.equal(s.ok(["pull", "-q", byDigest]).trim(), doc.Id);
    assert.equal(JSON.parse(s.ok(["image", "inspect", byDigest]))[0].Id, doc.Id);
  });

  test("an image built by umoci (an independent producer) pulls and unpacks", async () => {
    const dir = join(work, "umoci");
    const bundle = join(work, "umoci-bundle");
    const u = (...a: string[]) => execFileSync("umoci", a, { stdio: "pipe" });
    u("init", "--layout", dir);
    u("new", "--image", `${dir}:t`);
    u("unpack", "--image", `${dir}:t`, bundle);
    execFileSync("mkdir", ["-p", join(bundle, "rootfs", "bin"), join(bundle, "rootfs", "srv")]);
    execFileSync("cp", ["/bin/busybox", join(bundle, "rootfs", "bin", "busybox")]);
    execFileSync("ln", ["-s", "busybox", join(bundle, "rootfs", "bin", "sh")]);
    writeFileSync(join(bundle, "rootfs", "srv", "owned"), "x");
    execFileSync("chown", ["1234:5678", join(bundle, "rootfs", "srv", "owned")]);
    execFileSync("chmod", ["4750", join(bundle, "rootfs", "srv", "owned")]);
    u("repack", "--image", `${dir}:t`, bundle);
    u("config", "--image", `${dir}:t`, "--config.cmd", "sh", "--config.env", "FROM=umoci");
    rmSync(bundle, { recursive: true, force: true });
    await pushLayout({ dir, ref: "t" }, { host: reg.host, repo: "lib/umoci", tag: "t", tls: false });
    const s = sandbox();
    s.ok(["pull", `${reg.host}/lib/umoci:t`]);
    const [doc] = JSON.parse(s.ok(["image", "inspect", `${reg.host}/lib/umoci:t`]));
    assert.deepEqual(doc.Config.Cmd, ["sh"]);
    assert.ok(doc.Config.Env.includes("FROM=umoci"));
    const top = doc.GraphDriver.Data.LowerDir.split(":")[0];
    assert.ok(statSync(join(top, "bin", "busybox")).size > 500_000);
    const st = statSync(join(top, "srv", "owned"));
    assert.equal(st.uid, 1234);
    assert.equal(st.gid, 5678);
    assert.equal(st.mode & 0o7777, 0o4750);
  });

  test("concurrent pulls of one image share its snapshots; a concurrent prune collects nothing in use", async () => {
    const s = sandbox();
    const ref = `${reg.host}/lib/busybox:1.0`;
    const runs = await Promise.all([s.runAsync(["pull", "-q", ref]), s.runAsync(["pull", "-q", ref]), s.runAsync(["image", "prune"]), s.runAsync(["pull", "-q", ref])]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const ids = new Set([runs[0]!, runs[1]!, runs[3]!].map((r) => r.stdout.trim()));
    assert.equal(ids.size, 1);
    assert.equal(s.snapshotDirs().length, 1);
    const [doc] = JSON.parse(s.ok(["image", "inspect", ref]));
    assert.ok(statSync(join(doc.GraphDriver.Data.LowerDir, "bin", "busybox")).isFile());
    assert.match(s.ok(["image", "prune"]), /Removed 0 blobs and 0 snapshots/);
  });

  test("platform selection from an index", () => {
    const s = sandbox();
    s.ok(["pull", `${reg.host}/lib/multi`]);
    assert.equal(s.ok(["image", "inspect", "-f", "{{.Architecture}}", `${reg.host}/lib/multi`]).trim(), "amd64");
    s.ok(["pull", "--platform", "linux/arm64", `${reg.host}/lib/multi`]);
    const arm = JSON.parse(s.ok(["image", "inspect", `${reg.host}/lib/multi`]))[0];
    assert.equal(arm.Architecture, "arm64");
    assert.equal(readFileSync(join(arm.GraphDriver.Data.LowerDir.split(":")[0], "arch"), "utf8").trim(), "arm64");
    const bad = s.run(["pull", "--platform", "linux/s390x", `${reg.host}/lib/multi`]);
    assert.equal(bad.code, 125);
    assert.ok(oneLine(bad.stderr));
    assert.match(bad.stderr, /no image for linux\/s390x \(available: linux\/amd64, linux\/arm64(\/v8)?\)/);
    const worse = s.run(["pull", "--platform", "linux", `${reg.host}/lib/multi`]);
    assert.match(worse.stderr, /invalid platform "linux"/);
  });

  test("whiteouts and opaque dirs stack correctly under overlayfs", () => {
    const s = sandbox();
    s.ok(["pull", `${reg.host}/lib/whiteout`]);
    const [doc] = JSON.parse(s.ok(["image", "inspect", `${reg.host}/lib/whiteout`]));
    const mnt = mkdtempSync(join(tmpdir(), "berth-it-mnt-"));
    try {
      execFileSync("mount", ["-t", "overlay", "overlay", "-o", `ro,lowerdir=${doc.GraphDriver.Data.LowerDir}`, mnt]);
      try {
        assert.ok(existsSync(join(mnt, "a", "keep")));
        assert.ok(!existsSync(join(mnt, "a", "gone")));
        assert.deepEqual(readdirSync(join(mnt, "d")), ["new"]);
      } finally {
        execFileSync("umount", [mnt]);
      }
    } finally {
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  test("bad input: one line, exit 125, nothing created", () => {
    const s = sandbox();
    const cases: [string[], RegExp][] = [
      [["pull", "Not/Valid"], /invalid reference "Not\/Valid"/],
      [["pull", `${reg.host}/lib/nope:1`], /not found|unknown/i],
      [["pull", "127.0.0.1:1/x/y"], /cannot reach registry 127\.0\.0\.1:1/],
      [["pull", "--bogus", "x"], /unknown option '--bogus'/],
      [["image", "inspect", "nothing:here"], /image "nothing:here" not found/],
      [["rmi", "nothing:here"], /not found/],
      [["tag", "nothing:here", "x:y"], /not found/],
    ];
    for (const [args, msg] of cases) {
      const r = s.run(args);
      assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.ok(oneLine(r.stderr), `${args.join(" ")} printed: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    assert.equal(s.ok(["images", "-q", "-a"]), "");
    assert.deepEqual(s.snapshotDirs(), []);
    assert.deepEqual(s.blobs(), []);
  });

  test("a corrupt blob is refused, naming its digest, and leaves nothing", async () => {
    const s = sandbox();
    const img = await pushImage(reg, "lib/corrupt", "v1", { layers: [await layer([{ name: "hello", content: "x".repeat(10000) }])] });
    const target = img.layers[0]!;
    const path = blobDataPath(reg, target.digest);
    const good = readFileSync(path);
    const bad = Buffer.from(good);
    bad[bad.length - 10] ^= 0xff;
    writeFileSync(path, bad);
    const r = s.run(["pull", `${reg.host}/lib/corrupt:v1`]);
    assert.equal(r.code, 125);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr, new RegExp(target.digest));
    assert.equal(s.ok(["images", "-q", "-a"]), "");
    assert.deepEqual(s.snapshotDirs(), []);
    assert.ok(!s.blobs().includes(target.digest.slice(7)));
  });

  test("hostile layers write nothing outside the store and leave no image", async () => {
    const s = sandbox();
    const marker = `berth-escape-${process.pid}-${Date.now()}`;
    const hostile: Entry[][] = [
      [{ name: `../../../../../../tmp/${marker}`, content: "x" }],
      [{ name: "evil", type: "symlink", linkname: "/tmp" }, { name: `evil/${marker}`, content: "x" }],
      [{ name: "up", type: "symlink", linkname: "../../../../../../../../tmp" }, { name: `up/${marker}`, content: "x" }],
      [{ name: "pw", type: "link", linkname: "../../../../../../../etc/passwd" }],
    ];
    for (const [i, entries] of hostile.entries()) {
      await pushImage(reg, "lib/hostile", `v${i}`, { layers: [await layer(entries)] });
      const r = s.run(["pull", `${reg.host}/lib/hostile:v${i}`]);
      assert.ok(!existsSync(join("/tmp", marker)), `layer ${i} escaped to /tmp`);
      if (r.code !== 0) {
        assert.equal(r.code, 125);
        assert.ok(oneLine(r.stderr), r.stderr);
        continue;
      }
      // Resolved inside the root: the file must be inside the snapshot.
      const [doc] = JSON.parse(s.ok(["image", "inspect", `${reg.host}/lib/hostile:v${i}`]));
      assert.ok(doc.GraphDriver.Data.LowerDir.startsWith(s.root));
    }
    assert.equal(readFileSync("/etc/passwd", "utf8").length > 0, true);
  });

  test("Ctrl-C stops a pull cleanly: exit 130, no image, no snapshot; the next pull resumes", async () => {
    const s = sandbox();
    const big = Buffer.alloc(64 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2246822519) >>> 0, i);
    await pushImage(reg, "lib/interrupt", "v1", { layers: [await layer([{ name: "big.bin", content: big }])] });
    const { code, stderr } = await pullThenSignal(s, `${reg.host}/lib/interrupt:v1`, "SIGINT");
    if (code !== 0) {
      assert.equal(code, 130, stderr);
      assert.match(stderr, /pull interrupted/);
      assert.equal(s.ok(["images", "-q", "-a"]), "");
      assert.deepEqual(s.snapshotDirs(), []);
    }
    s.ok(["pull", `${reg.host}/lib/interrupt:v1`]);
    assert.equal(s.ok(["images", "-q"]).trim().split("\n").length, 1);
  });

  test("a pull killed mid-way leaves no image; prune cleans up; the next pull completes", async () => {
    const s = sandbox();
    const big = Buffer.alloc(48 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    await pushImage(reg, "lib/big", "v1", { layers: [await layer([{ name: "small", content: "s" }]), await layer([{ name: "big.bin", content: big }])] });
    await pullThenSignal(s, `${reg.host}/lib/big:v1`, "SIGKILL");
    assert.equal(s.ok(["images", "-q", "-a"]), "");
    assert.equal(s.run(["image", "inspect", `${reg.host}/lib/big:v1`]).code, 125);
    s.ok(["image", "prune"]);
    assert.deepEqual(s.snapshotDirs(), []);
    assert.equal(s.blobs().length, 0);
    s.ok(["pull", `${reg.host}/lib/big:v1`]);
    assert.equal(s.ok(["images", "-q"]).trim().split("\n").length, 1);
  });
});

