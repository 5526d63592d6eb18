/**
 * `berth cp` both ways on running and stopped containers, tar streams, hostile symlinks in the container,
 * and file injection at create (the library API the lab uses).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine } from "../../src/index.js";
import { BERTH } from "../helpers/cli.js";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 90_000 };
const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);

describe("cp and file injection", () => {
  let sb: ContainerSandbox;
  let host: string;
  /** A name no host file has: what a successful escape would create. */
  const marker = `berth-cp-escape-${process.pid}-${Date.now()}`;

  before(async () => {
    sb = await ContainerSandbox.create({ images: [{ name: "files:latest", extraFiles: { "etc/app/app.conf": "in image\n", "etc/frr/daemons": "zebra=yes\n" } }] });
    host = mkdtempSync(join(tmpdir(), "berth-cp-host-"));
  });

  after(async () => {
    await sb?.cleanupAsync();
    if (host) rmSync(host, { recursive: true, force: true });
    for (const p of [`/etc/${marker}`, `/tmp/${marker}`, `/${marker}`]) assert.ok(!existsSync(p), `${p} was written on the host`);
  });

  for (const running of [true, false]) {
    const state = running ? "running" : "stopped";

    it(`copies files and directories both ways on a ${state} container, keeping modes`, T, async () => {
      const name = `cp-${state}`;
      if (running) sb.ok(["run", "-d", "--name", name, "-v", `vol-${state}:/vol`, "files", "sleep", "300"]);
      else sb.ok(["create", "--name", name, "files", "sleep", "300"]);
      const dir = join(host, state);
      mkdirSync(join(dir, "tree", "sub"), { recursive: true });
      writeFileSync(join(dir, "tree", "run.sh"), "#!/bin/sh\necho hi\n");
      chmodSync(join(dir, "tree", "run.sh"), 0o751);
      writeFileSync(join(dir, "tree", "sub", "secret"), "s3cret\n");
      chmodSync(join(dir, "tree", "sub", "secret"), 0o600);
      chmodSync(join(dir, "tree", "sub"), 0o710);
      writeFileSync(join(dir, "one.txt"), "one\n");
      chmodSync(join(dir, "one.txt"), 0o604);

      // In: a file to a new name, a file into an existing dir, a tree to a new name, a tree's contents.
      sb.ok(["cp", join(dir, "one.txt"), `${name}:/tmp/renamed.txt`]);
      sb.ok(["cp", join(dir, "one.txt"), `${name}:/etc/app`]);
      sb.ok(["cp", join(dir, "tree"), `${name}:/opt`]);
      sb.ok(["cp", join(dir, "tree"), `${name}:/etc/app/`]);
      sb.ok(["cp", `${join(dir, "tree")}/.`, `${name}:/root`]);
      // Out: back to the host, through the merged view (image files too).
      const out = join(dir, "out");
      mkdirSync(out);
      sb.ok(["cp", `${name}:/opt`, join(out, "opt")]);
      sb.ok(["cp", `${name}:/etc/app`, out]);
      sb.ok(["cp", `${name}:/tmp/renamed.txt`, join(out, "r.txt")]);
      assert.equal(readFileSync(join(out, "r.txt"), "utf8"), "one\n");
      assert.equal(mode(join(out, "r.txt")), "604");
      assert.equal(readFileSync(join(out, "opt", "sub", "secret"), "utf8"), "s3cret\n");
      assert.equal(mode(join(out, "opt", "run.sh")), "751");
      assert.equal(mode(join(out, "opt", "sub")), "710");
      assert.equal(mode(join(out, "opt", "sub", "secret")), "600");
      assert.equal(readFileSync(join(out, "app", "app.conf"), "utf8"), "in image\n");
      assert.equal(readFileSync(join(out, "app", "one.txt"), "utf8"), "one\n");
      assert.equal(readFileSync(join(out, "app", "tree", "sub", "secret"), "utf8"), "s3cret\n");

      if (!running) sb.ok(["start", name]);
      // What the container itself sees.
      const seen = sb.ok(["exec", name, "sh", "-c", "stat -c '%a %u %n' /tmp/renamed.txt /opt/run.sh /opt/sub /opt/sub/secret /root/run.sh /root/sub/secret; cat /etc/app/one.txt"]);
      assert.equal(seen, "604 0 /tmp/renamed.txt\n751 0 /opt/run.sh\n710 0 /opt/sub\n600 0 /opt/sub/secret\n751 0 /root/run.sh\n600 0 /root/sub/secret\none\n");
      if (running) {
        // A running container's volumes are reachable.
        sb.ok(["cp", join(dir, "one.txt"), `${name}:/vol/`]);
        assert.equal(readFileSync(join(sb.root, "volumes", `vol-${state}`, "_data", "one.txt"), "utf8"), "one\n");
      }

      // Errors: one line, 125.
      for (const [args, msg] of [
        [["cp", `${name}:/nope`, out], /no such file or directory/],
        [["cp", join(dir, "one.txt"), `${name}:/no/such/dir/x`], /no such file or directory/],
        [["cp", join(dir, "one.txt"), `${name}:/newdir/`], /destination directory \/newdir\/ does not exist/],
        [["cp", join(dir, "tree"), `${name}:/tmp/renamed.txt`], /cannot copy directory/],
        [["cp", join(dir, "one.txt"), join(dir, "two.txt")], /one side must be a container path/],
        [["cp", `${name}:/a`, `${name}:/b`], /between containers is not supported/],
        [["cp", join(dir, "one.txt"), "nosuch:/tmp"], /no such container: nosuch/],
      ] as const) {
        const r = sb.run([...args]);
        assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      }
      sb.ok(["rm", "-f", "-v", name]);
      if (running) sb.ok(["volume", "rm", `vol-${state}`]);
      assert.deepEqual(await sb.leftovers(), []);
    });

    it(`hostile symlinks in a ${state} container cannot make cp read or write outside it`, T, async () => {
      const name = `evil-${state}`;
      // /tmp/evil -> /etc, /tmp/up -> ../../../../.. (escapes a naive join), /tmp/dangling -> /etc/<marker>.
      sb.ok(["create", "--name", name, "busybox", "sh", "-c", `ln -s /etc /tmp/evil; ln -s ../../../../../.. /tmp/up; ln -s /etc/${marker} /tmp/dangling; ln -s /etc/passwd /tmp/pw; touch /ready; exec sleep 300`]);
      sb.ok(["start", name]);
      for (let i = 0; i < 100 && sb.run(["exec", name, "test", "-e", "/ready"]).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
      if (!running) sb.ok(["stop", "-t", "0", name]);
      const src = join(host, `payload-${state}`);
      writeFileSync(src, "payload\n");
      const hostPasswd = readFileSync("/etc/passwd", "utf8");

      // Writes land inside the container whatever the symlinks say.
      sb.ok(["cp", src, `${name}:/tmp/evil/${marker}`]);
      sb.ok(["cp", src, `${name}:/tmp/up/tmp/${marker}`]);
      sb.ok(["cp", src, `${name}:/tmp/up/${marker}`]);
      sb.ok(["cp", src, `${name}:/tmp/dangling`]);
      for (const p of [`/etc/${marker}`, `/tmp/${marker}`, `/${marker}`]) assert.ok(!existsSync(p), `${p} was written on the host`);
      assert.equal(readFileSync("/etc/passwd", "utf8"), hostPasswd);

      // Reads come from the container: a symlink is copied as a symlink; -L follows it inside the container.
      const out = join(host, `out-${state}`);
      mkdirSync(out);
      sb.ok(["cp", `${name}:/tmp/pw`, join(out, "pw-link")]);
      assert.equal(readlinkSync(join(out, "pw-link")), "/etc/passwd");
      sb.ok(["cp", "-L", `${name}:/tmp/pw`, join(out, "pw")]);
      sb.ok(["cp", `${name}:/tmp/up/etc/passwd`, join(out, "pw2")]);
      sb.ok(["cp", `${name}:/tmp/evil/`, join(out, "etc")]);
      const busyboxPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
      assert.equal(readFileSync(join(out, "pw"), "utf8"), busyboxPasswd);
      assert.equal(readFileSync(join(out, "pw2"), "utf8"), busyboxPasswd);
      assert.equal(readFileSync(join(out, "etc", marker), "utf8"), "payload\n");
      assert.ok(!existsSync(join(out, "etc", "shadow")) || readFileSync("/etc/shadow", "utf8") !== readFileSync(join(out, "etc", "shadow"), "utf8"));

      if (!running) sb.ok(["start", name]);
      assert.equal(sb.ok(["exec", name, "cat", `/etc/${marker}`, `/tmp/${marker}`, `/${marker}`]), "payload\npayload\npayload\n");
      sb.ok(["rm", "-f", name]);
      assert.deepEqual(await sb.leftovers(), []);
    });
  }

  it("tar streams: cp CTR:SRC - and cp - CTR:DST", T, async () => {
    sb.ok(["create", "--name", "tarry", "files", "true"]);
    const tarOut = spawnSync(BERTH, sb.args(["cp", "tarry:/etc/app", "-"]), { encoding: "buffer" });
    assert.equal(tarOut.status, 0, tarOut.stderr.toString());
    const listing = spawnSync("tar", ["-tv"], { input: tarOut.stdout, encoding: "utf8" });
    assert.match(listing.stdout, /app\/\n/);
    assert.match(listing.stdout, /app\/app\.conf\n/);
    const dir = join(host, "tarin");
    mkdirSync(join(dir, "d"), { recursive: true });
    writeFileSync(join(dir, "d", "x"), "from tar\n");
    chmodSync(join(dir, "d", "x"), 0o640);
    const tarIn = spawnSync("tar", ["-C", dir, "-c", "d"]);
    const r = spawnSync(BERTH, sb.args(["cp", "-", "tarry:/srv"]), { input: tarIn.stdout, encoding: "utf8" });
    assert.equal(r.status, 125, "the destination directory must exist");
    const ok = spawnSync(BERTH, sb.args(["cp", "-", "tarry:/tmp"]), { input: tarIn.stdout, encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    const back = join(host, "tarback");
    sb.ok(["cp", "tarry:/tmp/d", back]);
    assert.equal(readFileSync(join(back, "x"), "utf8"), "from tar\n");
    assert.equal(mode(join(back, "x")), "640");
    sb.ok(["rm", "tarry"]);
  });

  it("file injection at create: owner, group and mode from the image's passwd/group, parents made, missing source refused", T, async () => {
    const cfg = join(host, "frr.conf");
    writeFileSync(cfg, "hostname r1\n");
    chmodSync(cfg, 0o600);
    const cfgDir = join(host, "cfgdir");
    mkdirSync(join(cfgDir, "nested"), { recursive: true });
    writeFileSync(join(cfgDir, "nested", "a"), "a\n");
    // The sandbox's config (no default network: networks are host-wide objects) for the library too.
    const engine = await Engine.open({ root: sb.root, runroot: sb.runroot, config: sb.config });
    try {
      const { id } = await engine.containers.create({
        image: "files",
        name: "injected",
        cmd: ["sh", "-c", "stat -c '%a %u %g %n' /etc/frr/frr.conf /etc/frr/daemons /new/dir/cfg /new/dir/cfg/nested/a /new /root/plain; cat /etc/frr/frr.conf"],
        files: [
          { source: cfg, destination: "/etc/frr/frr.conf", owner: "nobody", group: "nogroup", mode: 0o640 },
          { source: cfgDir, destination: "/new/dir/cfg", owner: 65534, mode: 0o750 },
          { source: cfg, destination: "/root/plain" },
        ],
      });
      assert.match(id, /^[0-9a-f]{64}$/);
      const before = (await engine.containers.list({ all: true })).length;
      await assert.rejects(
        engine.containers.create({ image: "files", files: [{ source: join(host, "missing"), destination: "/x" }] }),
        (e: Error) => /files\[0\]: cannot read the source .*missing: no such file or directory/.test(e.message),
      );
      await assert.rejects(
        engine.containers.create({ image: "files", files: [{ source: cfg, destination: "/x", owner: "nosuchuser" }] }),
        (e: Error) => /files\[0\] \(\/x\): unable to find user nosuchuser/.test(e.message),
      );
      assert.equal((await engine.containers.list({ all: true })).length, before, "refused creates leave no container");
    } finally {
      engine.close();
    }
    const r = sb.run(["start", "-a", "injected"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "640 65534 65534 /etc/frr/frr.conf\n644 0 0 /etc/frr/daemons\n750 65534 65534 /new/dir/cfg\n644 65534 65534 /new/dir/cfg/nested/a\n755 0 0 /new\n600 0 0 /root/plain\nhostname r1\n");
    // The host source is untouched.
    assert.equal(mode(cfg), "600");
    assert.equal(statSync(cfg).uid, process.getuid?.());
    sb.ok(["rm", "injected"]);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
