/**
 * `berth run` through the real CLI, conmon and runc: the process, its environment, users, the root
 * filesystem, stdin and terminals, --rm, exit codes and what inspect says.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { BERTH } from "../helpers/cli.js";
import { ContainerSandbox, until } from "../helpers/containers.js";

const T = { timeout: 60_000 };

/** Shell-quote one word for `script -c`. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe("containers: run", () => {
  let sb: ContainerSandbox;

  before(async () => {
    sb = await ContainerSandbox.create({
      images: [
        { name: "envimg:latest", config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=img", "BAR=img"], WorkingDir: "/home" } },
        { name: "userimg:latest", config: { User: "nobody" } },
      ],
    });
  });

  after(async () => {
    await sb?.cleanupAsync();
  });

  it("runs the command as PID 1 and propagates its exit code", T, () => {
    const r = sb.run(["run", "--rm", "busybox", "sh", "-c", "echo $$"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "1\n");
    const e = sb.run(["run", "--rm", "busybox", "sh", "-c", "echo bye; exit 7"]);
    assert.equal(e.code, 7, e.stderr);
    assert.equal(e.stdout, "bye\n");
  });

  it("sets the hostname from --hostname, else the first 12 characters of the ID", T, () => {
    assert.equal(sb.ok(["run", "--rm", "--hostname", "h1", "busybox", "hostname"]), "h1\n");
    const r = sb.run(["run", "--name", "hn", "busybox", "sh", "-c", "hostname; cat /etc/hostname"]);
    assert.equal(r.code, 0, r.stderr);
    const id = sb.inspectF("hn", "{{.Id}}");
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(r.stdout, `${id.slice(0, 12)}\n${id.slice(0, 12)}\n`);
    assert.equal(sb.inspectF("hn", "{{.Config.Hostname}}"), id.slice(0, 12));
    sb.ok(["rm", "hn"]);
  });

  it("merges the image's Env with -e, later values winning, and honours WorkingDir and -w", T, () => {
    const out = sb.ok(["run", "--rm", "-e", "BAR=cli", "-e", "BAZ=one", "-e", "BAZ=two", "envimg", "sh", "-c", 'echo "$FOO $BAR $BAZ"; pwd']);
    assert.equal(out, "img cli two\n/home\n");
    assert.equal(sb.ok(["run", "--rm", "-w", "/tmp/new", "envimg", "pwd"]), "/tmp/new\n");
  });

  it("runs as --user by name, by uid:gid, and as the image's USER", T, () => {
    assert.equal(sb.ok(["run", "--rm", "--user", "nobody", "busybox", "id", "-u"]), "65534\n");
    assert.equal(sb.ok(["run", "--rm", "-u", "1000:1000", "busybox", "sh", "-c", "id -u; id -g"]), "1000\n1000\n");
    assert.equal(sb.ok(["run", "--rm", "userimg", "id", "-u"]), "65534\n");
    assert.equal(sb.ok(["run", "--rm", "-u", "root", "userimg", "id", "-u"]), "0\n");
  });

  it("--read-only refuses writes to / but a --tmpfs is writable; --tmpfs options reach the mount", T, () => {
    const r = sb.run(["run", "--rm", "--read-only", "--tmpfs", "/tmp", "busybox", "sh", "-c", "touch /x && echo ROOT-WRITABLE; touch /tmp/y && echo TMP-OK"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "TMP-OK\n");
    assert.match(r.stderr, /Read-only file system/);
    const m = sb.ok(["run", "--rm", "--tmpfs", "/data:size=1m", "busybox", "sh", "-c", "grep ' /data ' /proc/mounts"]);
    const fields = m.trim().split(/\s+/);
    assert.equal(fields[1], "/data", m);
    assert.equal(fields[2], "tmpfs", m);
    assert.match(fields[3]!, /(^|,)size=1024k(,|$)/, m);
    // Without --read-only the root is writable (so the check above can tell the difference).
    assert.equal(sb.ok(["run", "--rm", "busybox", "sh", "-c", "touch /x && echo ROOT-WRITABLE"]), "ROOT-WRITABLE\n");
  });

  it("-i passes piped stdin to the container", T, () => {
    assert.equal(sb.ok(["run", "-i", "--rm", "busybox", "cat"], { input: "hello\n" }), "hello\n");
    // Without -i the container's stdin is not the caller's.
    assert.equal(sb.ok(["run", "--rm", "busybox", "cat"], { input: "hello\n" }), "");
  });

  it("-t gives the container a pseudo-terminal; -it relays typed input", T, () => {
    const cmd = (a: string[]) => [BERTH, ...sb.args(a)].map(q).join(" ");
    const tty = spawnSync("script", ["-qec", cmd(["run", "--rm", "-t", "busybox", "tty"]), "/dev/null"], { encoding: "utf8", input: "", timeout: 60_000 });
    assert.equal(tty.status, 0, tty.stderr);
    assert.match(tty.stdout, /^\/dev\/pts\/\d+\r*\n$/);
    const noTty = sb.run(["run", "--rm", "busybox", "sh", "-c", "tty || true"]);
    assert.match(noTty.stdout, /not a tty/);
    const it2 = spawnSync("script", ["-qec", cmd(["run", "--rm", "-it", "busybox", "sh", "-c", "read x; echo got $x"]), "/dev/null"], { encoding: "utf8", input: "abc\n", timeout: 60_000 });
    assert.equal(it2.status, 0, it2.stderr);
    assert.match(it2.stdout, /got abc/);
  });

  it("--rm removes the container and everything it had on the host", T, async () => {
    const before = sb.ids.size;
    assert.equal(sb.ok(["run", "--rm", "--name", "gone", "busybox", "echo", "x"]), "x\n");
    const d = sb.run(["run", "-d", "--rm", "--name", "gone2", "busybox", "true"]);
    assert.equal(d.code, 0, d.stderr);
    await until(() => sb.ok(["ps", "-aq"]) === "", { what: "the detached --rm container to be removed" });
    assert.deepEqual(await sb.leftovers(), []);
    assert.ok(sb.ids.size >= before + 2, "the sandbox saw both containers (so their cgroups were checked)");
  });

  it("inspect reports State, Config and HostConfig", T, async () => {
    const id = sb.ok(["run", "-d", "--name", "insp", "-m", "64m", "-e", "X=1", "--restart", "on-failure:3", "busybox", "sleep", "300"]).trim();
    const j = sb.inspectJson("insp");
    assert.equal(j.Id, id);
    assert.equal(j.Name, "/insp");
    assert.equal(j.State.Status, "running");
    assert.equal(j.State.Running, true);
    assert.ok(j.State.Pid > 0, `Pid ${j.State.Pid}`);
    assert.equal(j.State.ExitCode, 0);
    assert.equal(j.State.OOMKilled, false);
    assert.ok(Date.parse(j.State.StartedAt) > 0, j.State.StartedAt);
    assert.equal(j.State.FinishedAt, "0001-01-01T00:00:00Z");
    assert.equal(j.RestartCount, 0);
    assert.deepEqual(j.Config.Cmd, ["sleep", "300"]);
    assert.ok(j.Config.Env.includes("X=1"), JSON.stringify(j.Config.Env));
    assert.ok(j.Config.Env.some((e: string) => e.startsWith("PATH=")), JSON.stringify(j.Config.Env));
    assert.equal(j.HostConfig.Memory, 64 * 1024 * 1024);
    assert.deepEqual(j.HostConfig.RestartPolicy, { Name: "on-failure", MaximumRetryCount: 3 });
    // The pid is the container's sleep, seen from the host.
    assert.match(readFileSync(`/proc/${j.State.Pid}/cmdline`, "utf8"), /^sleep\x00300\x00$/);
    assert.equal(sb.inspectF("insp", "{{.State.Status}} {{.HostConfig.Memory}}"), "running 67108864");

    sb.ok(["stop", "-t", "0", "insp"]);
    const s = sb.inspectJson("insp");
    assert.equal(s.State.Status, "exited");
    assert.equal(s.State.Running, false);
    assert.equal(s.State.Pid, 0);
    assert.equal(s.State.ExitCode, 137);
    assert.ok(Date.parse(s.State.FinishedAt) >= Date.parse(s.State.StartedAt), `${s.State.StartedAt} .. ${s.State.FinishedAt}`);
    sb.ok(["rm", "insp"]);
  });

  it("leaves nothing behind", T, async () => {
    sb.run(["rm", "-af"]);
    assert.deepEqual(sb.containerIds(), []);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
