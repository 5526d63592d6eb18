/**
 * Published ports through the real CLI: a busybox httpd published with -p HOST:80 answers on 127.0.0.1 from
 * the test process, `-p 80` picks a free host port that `port` shows, and a host port held by another
 * container or by a process on the host is refused (exit 125) without leaving anything behind.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { get } from "node:http";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { hostVethName } from "../../src/network/link-plan.js";
import { hostLinkNames, freeV4 } from "../helpers/net.js";
import { ContainerSandbox, until } from "../helpers/containers.js";

const T = { timeout: 60_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });



/** A TCP port nobody listens on right now (the kernel's pick; released before use). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen({ port: 0, host: "127.0.0.1" }, () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? res(a.port) : rej(new Error("no port"))));
    });
  });
}

function httpGet(port: number, host = "127.0.0.1"): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = get({ host, port, path: "/", timeout: 3000 }, (r) => {
      let body = "";
      r.setEncoding("utf8");
      r.on("data", (d) => (body += d));
      r.on("end", () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
  });
}

/** sh -c for busybox: a document root with an index naming the container, then httpd in the foreground. */
const httpd = (word: string) => ["sh", "-c", `mkdir -p /www && echo ${word} > /www/index.html && exec httpd -f -p 80 -h /www`];

describe("networks: published ports", () => {
  let sb: ContainerSandbox;
  let holder: Server | undefined;
  const net = `np${Math.random().toString(36).slice(2, 8)}`;
  const prefix = freeV4();
  const n = (s: string) => `${s}-${Math.random().toString(36).slice(2, 6)}`;
  const web = n("web");
  const auto = n("auto");
  const bridges: string[] = [];

  /** A refused run leaves no container, netns or veth, and no published port. */
  const assertRefused = async (args: string[], msg: RegExp) => {
    const before = sb.containerIds();
    const r = sb.run(args);
    assert.equal(r.code, 125, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.deepEqual(sb.containerIds().sort(), before.sort(), "no container left by a refused run");
    const left = (await sb.leftovers()).filter((l) => !before.some((id) => l.includes(id) || l.includes(id.slice(0, 12)) || l.includes(hostVethName(id, "eth0"))));
    assert.deepEqual(left, [], "nothing of the refused container remains");
  };

  before(async () => {
    sb = await ContainerSandbox.create();
    sb.ok(["network", "create", "--subnet", `${prefix}.0/24`, net]);
    bridges.push(JSON.parse(sb.ok(["network", "inspect", net]))[0].Options.bridge);
  });

  after(async () => {
    await new Promise<void>((r) => (holder ? holder.close(() => r()) : r()));
    await sb?.cleanupAsync();
    const links = hostLinkNames();
    for (const b of bridges) assert.ok(!links.includes(b), `bridge ${b} left on the host`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
  });

  let hostPort = 0;

  it("-p HOST:80 publishes httpd on 127.0.0.1 of the host", T, async () => {
    hostPort = await freePort();
    sb.ok(["run", "-d", "--name", web, "--network", net, "-p", `${hostPort}:80`, "busybox", ...httpd("hello-web")]);
    const r = await until(() => httpGet(hostPort).catch(() => undefined), { what: `httpd on 127.0.0.1:${hostPort}` });
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), "hello-web");
    assert.match(sb.ok(["port", web]), new RegExp(`^80/tcp -> 0\\.0\\.0\\.0:${hostPort}$`, "m"));
    const ports = sb.inspectJson(web).NetworkSettings.Ports;
    assert.deepEqual(ports["80/tcp"], [{ HostIp: "0.0.0.0", HostPort: String(hostPort) }]);
    assert.match(sh("nft", ["list", "table", "inet", `berth_t${sb.tag}`]).stdout, new RegExp(`dport ${hostPort}\\b`));
  });

  it("-p 80 picks a free host port, shown by `port`, that answers", T, async () => {
    sb.ok(["run", "-d", "--name", auto, "--network", net, "-p", "80", "busybox", ...httpd("hello-auto")]);
    const out = sb.ok(["port", auto]);
    const m = /^80\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(out);
    assert.ok(m, `port output: ${out}`);
    const port = Number(m[1]);
    assert.ok(port > 0 && port !== hostPort, `picked ${port}`);
    assert.equal(sb.ok(["port", auto, "80/tcp"]).trim(), `0.0.0.0:${port}`);
    const r = await until(() => httpGet(port).catch(() => undefined), { what: `httpd on 127.0.0.1:${port}` });
    assert.equal(r.body.trim(), "hello-auto");
    // The first one still answers with its own page.
    assert.equal((await httpGet(hostPort)).body.trim(), "hello-web");
  });

  it("a host port another container publishes is refused, leaving nothing", T, async () => {
    await assertRefused(["run", "-d", "--name", n("dup"), "--network", net, "-p", `${hostPort}:80`, "busybox", ...httpd("dup")], new RegExp(`${hostPort}`));
    assert.equal((await httpGet(hostPort)).body.trim(), "hello-web", "the holder keeps its port");
  });

  it("a host port a host process listens on is refused, leaving nothing", T, async () => {
    holder = createServer();
    await new Promise<void>((r) => holder!.listen({ port: 0, host: "127.0.0.1" }, () => r()));
    const port = (holder.address() as { port: number }).port;
    await assertRefused(["run", "-d", "--name", n("busy"), "--network", net, "-p", `127.0.0.1:${port}:80`, "busybox", ...httpd("busy")], new RegExp(`${port}`));
    await assertRefused(["run", "-d", "--name", n("busy"), "--network", net, "-p", `${port}:80`, "busybox", ...httpd("busy")], new RegExp(`${port}`));
    await new Promise<void>((r) => holder!.close(() => r()));
    holder = undefined;
  });

  it("stop releases the port; rm and network rm leave nothing on the host", T, async () => {
    sb.ok(["stop", "-t", "0", web]);
    assert.equal(sb.ok(["port", web]).trim(), "");
    assert.doesNotMatch(sh("nft", ["list", "table", "inet", `berth_t${sb.tag}`]).stdout, new RegExp(`dport ${hostPort}\\b`));
    await assert.rejects(httpGet(hostPort), "nothing answers on the released port");
    sb.ok(["rm", "-f", web, auto]);
    sb.ok(["network", "rm", net]);
    assert.ok(!sb.ok(["network", "ls", "--format", "{{.Name}}"]).split("\n").includes(net));
    assert.deepEqual(await sb.leftovers(), []);
    const links = hostLinkNames();
    for (const b of bridges) assert.ok(!links.includes(b), `bridge ${b} left on the host`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left after the last network went");
  });
});
