/**
 * Named and anonymous volumes, bind mounts, tmpfs and --volumes-from through the real CLI, runc and conmon:
 * persistence across containers, seeding from the image, in-use protection, `rm -v` and `--rm`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 90_000 };

describe("volumes: CLI", () => {
  let sb: ContainerSandbox;
  let host: string;

  const volumeDirs = () => {
    const d = join(sb.root, "volumes");
    return existsSync(d) ? readdirSync(d) : [];
  };
  const volumeNames = () => sb.ok(["volume", "ls", "-q"]).split("\n").filter(Boolean);

  before(async () => {
    sb = await ContainerSandbox.create({
      images: [
        { name: "seeded:latest", extraFiles: { "data/hello": "from image\n", "data/sub/deep": "deep\n", "etc/app.conf": "x=1\n" } },
        { name: "withvol:latest", config: { Volumes: { "/data": {} } }, extraFiles: { "data/hello": "image volume\n" } },
      ],
    });
    host = mkdtempSync(join(tmpdir(), "berth-vol-host-"));
  });

  after(async () => {
    await sb?.cleanupAsync();
    if (host) rmSync(host, { recursive: true, force: true });
  });

  it("volume create/ls/inspect/rm: Docker's shape, names checked, random names, labels", T, () => {
    assert.equal(sb.ok(["volume", "create", "-l", "team=net", "-l", "tier", "vol1"]).trim(), "vol1");
    // An existing name is kept (Docker): no error, same volume.
    assert.equal(sb.ok(["volume", "create", "vol1"]).trim(), "vol1");
    const anon = sb.ok(["volume", "create"]).trim();
    assert.match(anon, /^[0-9a-f]{64}$/);
    const doc = JSON.parse(sb.ok(["volume", "inspect", "vol1"]))[0];
    assert.equal(doc.Name, "vol1");
    assert.equal(doc.Driver, "local");
    assert.equal(doc.Scope, "local");
    assert.equal(doc.Mountpoint, join(sb.root, "volumes", "vol1", "_data"));
    assert.deepEqual(doc.Labels, { team: "net", tier: "" });
    assert.deepEqual(doc.Options, {});
    assert.match(doc.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(existsSync(doc.Mountpoint));
    assert.equal(sb.ok(["volume", "inspect", "-f", "{{.Driver}} {{.Name}}", "vol1"]), "local vol1\n");
    assert.deepEqual(volumeNames().sort(), [anon, "vol1"].sort());
    assert.match(sb.ok(["volume", "ls"]), /^DRIVER\s+VOLUME NAME\nlocal\s+/);
    assert.deepEqual(sb.ok(["volume", "ls", "-q", "--filter", "label=team=net"]).trim(), "vol1");
    assert.deepEqual(JSON.parse(sb.ok(["volume", "ls", "--format", "json"])).length, 2);

    for (const [args, msg] of [
      [["volume", "create", "a"], /invalid volume name "a"/],
      [["volume", "create", "-bad"], /unknown option|invalid volume name/],
      [["volume", "create", "x/y"], /invalid volume name/],
      [["volume", "create", "-d", "nfs", "vx"], /driver "nfs" is not supported/],
      [["volume", "create", "-o", "type=tmpfs", "vx"], /volume option "type" is not supported/],
      [["volume", "inspect", "nosuch"], /no such volume: nosuch/],
      [["volume", "rm", "nosuch"], /no such volume: nosuch/],
    ] as const) {
      const r = sb.run([...args]);
      assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.ok(!volumeNames().includes("vx"), "a refused create leaves nothing");
    sb.ok(["volume", "rm", "-f", "nosuch"]);
    sb.ok(["volume", "rm", "vol1", anon]);
    assert.deepEqual(volumeNames(), []);
    assert.deepEqual(volumeDirs(), []);
  });

  it("a named volume persists across containers; -v creates it on first use; in-use volumes cannot be removed", T, async () => {
    sb.ok(["run", "--name", "w1", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f; chmod 640 /data/f"]);
    assert.deepEqual(volumeNames(), ["keep"]);
    assert.equal(sb.ok(["run", "--rm", "-v", "keep:/mnt:ro", "busybox", "sh", "-c", "cat /mnt/f; stat -c %a /mnt/f"]), "persisted\n640\n");
    // The volume is in use by w1 (stopped): refused, naming the container; nothing removed.
    const r = sb.run(["volume", "rm", "keep"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /volume keep is in use by container w1/);
    assert.ok(existsSync(join(sb.root, "volumes", "keep", "_data", "f")));
    // prune keeps used volumes.
    sb.ok(["volume", "prune", "-f"]);
    assert.deepEqual(volumeNames(), ["keep"]);
    sb.ok(["rm", "w1"]);
    // Named volumes survive rm -v; only the container's anonymous ones go.
    assert.deepEqual(volumeNames(), ["keep"]);
    sb.ok(["volume", "rm", "keep"]);
    assert.deepEqual(volumeDirs(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });

  it("a new named volume is seeded with the image's content at its path (modes and owners kept); nocopy and a used volume are not", T, () => {
    const inImage = sb.ok(["run", "--rm", "seeded", "sh", "-c", "cd /data && stat -c '%a %u %g %n' . hello sub sub/deep"]);
    const seeded = sb.ok(["run", "--rm", "-v", "seedme:/data", "seeded", "sh", "-c", "cd /data && stat -c '%a %u %g %n' . hello sub sub/deep && cat hello sub/deep"]);
    assert.equal(seeded, `${inImage}from image\ndeep\n`);
    assert.equal(readFileSync(join(sb.root, "volumes", "seedme", "_data", "hello"), "utf8"), "from image\n");
    // Not empty any more: a second container's changes are not overwritten by the image's.
    sb.ok(["run", "--rm", "-v", "seedme:/data", "seeded", "sh", "-c", "echo changed > /data/hello; rm /data/sub/deep"]);
    assert.equal(sb.ok(["run", "--rm", "-v", "seedme:/data", "seeded", "sh", "-c", "cat /data/hello; ls /data/sub | wc -l"]), "changed\n0\n");
    // volume-nocopy: stays empty.
    assert.equal(sb.ok(["run", "--rm", "--mount", "type=volume,source=empty,target=/data,volume-nocopy", "seeded", "ls", "-A", "/data"]), "");
    // A path the image does not have: an empty volume.
    assert.equal(sb.ok(["run", "--rm", "-v", "fresh:/nothing/here", "seeded", "ls", "-A", "/nothing/here"]), "");
    sb.ok(["volume", "rm", "seedme", "empty", "fresh"]);
  });

  it("bind mounts: rw and ro (EROFS), a missing host path is refused up front; tmpfs via --mount", T, async () => {
    writeFileSync(join(host, "in.txt"), "host file\n");
    assert.equal(sb.ok(["run", "--rm", "-v", `${host}:/h`, "busybox", "sh", "-c", "cat /h/in.txt; echo from-ctr > /h/out.txt"]), "host file\n");
    assert.equal(readFileSync(join(host, "out.txt"), "utf8"), "from-ctr\n");
    const ro = sb.run(["run", "--rm", "-v", `${host}:/h:ro`, "busybox", "sh", "-c", "echo x > /h/ro.txt"]);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.ok(!existsSync(join(host, "ro.txt")));
    const ro2 = sb.run(["run", "--rm", "--mount", `type=bind,source=${host},target=/h,readonly`, "busybox", "touch", "/h/ro2"]);
    assert.match(ro2.stderr, /Read-only file system/);
    const before = sb.containerIds().length;
    const missing = sb.run(["run", "--rm", "-v", `${host}/nope:/h`, "busybox", "true"]);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /host path .*\/nope does not exist/);
    assert.equal(sb.containerIds().length, before, "nothing was created");
    const t = sb.ok(["run", "--rm", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770", "busybox", "sh", "-c", "grep ' /scratch ' /proc/mounts; stat -c %a /scratch"]);
    assert.match(t, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770/);
    assert.match(t, /\n1770\n$/);
    assert.deepEqual(await sb.leftovers(), []);
  });

  it("--volumes-from mounts another container's volumes and binds, :ro forcing read-only", T, async () => {
    writeFileSync(join(host, "shared.txt"), "bound\n");
    sb.ok(["create", "--name", "src", "-v", "vf:/vol", "-v", `${host}:/bind`, "-v", "/anon", "busybox", "true"]);
    sb.ok(["run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c", "echo hi > /vol/x; echo a > /anon/y; cat /bind/shared.txt"]);
    assert.equal(sb.ok(["run", "--rm", "--volumes-from", "src:ro", "busybox", "sh", "-c", "cat /vol/x /anon/y /bind/shared.txt"]), "hi\na\nbound\n");
    const ro = sb.run(["run", "--rm", "--volumes-from", "src:ro", "busybox", "touch", "/vol/z"]);
    assert.match(ro.stderr, /Read-only file system/);
    const bad = sb.run(["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /no such container: nosuch/);
    // src's anonymous volume survived the --rm users (it is src's); rm -v removes it, not the named one.
    assert.equal(volumeNames().length, 2);
    sb.ok(["rm", "-v", "src"]);
    assert.deepEqual(volumeNames(), ["vf"]);
    sb.ok(["volume", "rm", "vf"]);
    assert.deepEqual(volumeDirs(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });

  it("image VOLUMEs get anonymous volumes (seeded); --rm and rm -v remove them, plain rm keeps them for prune", T, async () => {
    assert.equal(sb.ok(["run", "--rm", "withvol", "cat", "/data/hello"]), "image volume\n");
    assert.deepEqual(volumeNames(), [], "--rm removed the anonymous volume");
    sb.ok(["run", "--name", "iv", "withvol", "true"]);
    const [anon] = volumeNames();
    assert.match(anon ?? "", /^[0-9a-f]{64}$/);
    assert.equal(JSON.parse(sb.ok(["volume", "inspect", anon!]))[0].Anonymous, true);
    sb.ok(["rm", "iv"]);
    assert.deepEqual(volumeNames(), [anon], "plain rm keeps anonymous volumes (Docker)");
    assert.match(sb.ok(["volume", "prune", "-f"]), new RegExp(`Deleted Volumes:\\n${anon}\\n`));
    sb.ok(["run", "--name", "iv2", "-v", "/extra", "withvol", "true"]);
    assert.equal(volumeNames().length, 2);
    sb.ok(["rm", "-v", "iv2"]);
    assert.deepEqual(volumeNames(), []);
    assert.deepEqual(volumeDirs(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });

  it("bad -v and --mount values fail before anything exists", T, () => {
    for (const [args, msg] of [
      [["-v", "x:/data"], /neither an absolute host path nor a volume name/],
      [["-v", "vol:data"], /must be absolute/],
      [["-v", "vol:/data:bogus"], /unknown option "bogus"/],
      [["--mount", "type=volume,source=/abs,target=/d"], /not a volume name/],
      [["--mount", "type=volume,target=/d,volume-opt=o=x"], /volume-opt is not supported/],
      [["--volumes-from", "a:rx"], /expected CONTAINER\[:ro\|rw\]/],
      [["-v", "dup:/d", "-v", "dup2:/d"], /duplicate mount point/],
    ] as const) {
      const r = sb.run(["run", "--rm", ...args, "busybox", "true"]);
      assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    assert.deepEqual(volumeNames(), []);
    assert.deepEqual(sb.containerIds(), []);
  });
});
