/**
 * Published ports seen from another host: a network namespace joined to the host by a veth pair on a private
 * /24 plays the remote machine. A busybox httpd published with -p HOST:80 answers there on the host's veth
 * address (prerouting DNAT, forwarding to the bridge, replies un-NATed by conntrack), and keeps the
 * client's real source address; a port published on 127.0.0.1 only answers on the host's loopback and
 * never from the remote, not even when the remote routes 127.0.0.1 to the host (a martian address that
 * prerouting DNAT must not turn into a routable one); and something on berth's bridge that routes 127.0.0.1
 * to the host reaches none of the host's loopback services. Host-wide sysctls are left exactly as they were.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as httpServer, get } from "node:http";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox, until } from "../helpers/containers.js";
import { freeV4, hostLinkNames, PeerNetns } from "../helpers/net.js";

const T = { timeout: 90_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

/** A TCP port nobody listens on right now (the kernel's pick; released before use). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen({ port: 0 }, () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? res(a.port) : rej(new Error("no port"))));
    });
  });
}

function httpGet(port: number, host = "127.0.0.1"): Promise<string> {
  return new Promise((res, rej) => {
    const req = get({ host, port, path: "/", timeout: 3000 }, (r) => {
      let body = "";
      r.setEncoding("utf8");
      r.on("data", (d) => (body += d));
      r.on("end", () => res(body));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
  });
}

/** Host-wide IPv4/IPv6 sysctls a NAT setup might be tempted to change (per-interface ones come and go with links). */
function globalSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  const read = (p: string) => {
    try {
      out[p] = readFileSync(p, "utf8").trim();
    } catch {
      /* not readable (write-only) or absent */
    }
  };
  read("/proc/sys/net/ipv4/ip_forward");
  for (const fam of ["ipv4", "ipv6"]) for (const scope of ["all", "default"]) for (const k of readdirSync(`/proc/sys/net/${fam}/conf/${scope}`)) read(`/proc/sys/net/${fam}/conf/${scope}/${k}`);
  return out;
}

/** Print the body of a 200 answer to argv[1], else fail; 3 s bound on connect and read. */
const REMOTE_GET = `require("http").get(process.argv[1], { timeout: 3000 }, (r) => { let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => { process.stdout.write(b); process.exit(r.statusCode === 200 ? 0 : 1); }); }).on("timeout", () => process.exit(2)).on("error", () => process.exit(3));`;

/** busybox httpd, verbose (it logs each client's address to stderr), serving a page naming the container. */
const httpd = (word: string) => ["sh", "-c", `mkdir -p /www && echo ${word} > /www/index.html && exec httpd -f -v -p 80 -h /www`];

describe("networks: published ports from another host", () => {
  let sb: ContainerSandbox;
  let remote: PeerNetns | undefined;
  let rogue: PeerNetns | undefined;
  const tag = Math.random().toString(36).slice(2, 8);
  const net = `nr${tag}`;
  const netPrefix = freeV4();
  const lan = freeV4([netPrefix]);
  const hostAddr = `${lan}.1`;
  const remoteAddr = `${lan}.2`;
  const n = (s: string) => `${s}-${Math.random().toString(36).slice(2, 6)}`;
  const web = n("web");
  const local = n("local");
  const sysctlsBefore = globalSysctls();
  let bridge = "";

  /** GET from inside the remote netns (this node binary: Debian's static busybox wget segfaults); the page or undefined. */
  const remoteGet = (url: string) => {
    const r = remote!.exec(process.execPath, ["-e", REMOTE_GET, url]);
    return r.code === 0 ? r.stdout : undefined;
  };

  // Traffic from another host to a published port is forwarded, and berth leaves the host-wide switch as it
  // finds it: the test turns IPv4 forwarding on for its duration, as the host's administrator would.
  const FORWARD = "/proc/sys/net/ipv4/ip_forward";
  let forwardBefore = "";

  before(async () => {
    forwardBefore = readFileSync(FORWARD, "utf8").trim();
    if (forwardBefore !== "1") writeFileSync(FORWARD, "1");
    sb = await ContainerSandbox.create();
    sb.ok(["network", "create", "--subnet", `${netPrefix}.0/24`, net]);
    bridge = JSON.parse(sb.ok(["network", "inspect", net]))[0].Options.bridge;
    // The remote's lo stays down: it has no 127.0.0.0/8 of its own, so a later test can route 127.0.0.1 to us.
    remote = PeerNetns.create({ tag, hostAddr: `${hostAddr}/24`, peerAddr: `${remoteAddr}/24` });
  });

  after(async () => {
    if (forwardBefore && forwardBefore !== "1") writeFileSync(FORWARD, forwardBefore);
    remote?.remove();
    rogue?.remove();
    await sb?.cleanupAsync();
    assert.deepEqual([...(remote?.leftovers() ?? []), ...(rogue?.leftovers() ?? [])], [], "peer netns or veth left");
    assert.ok(!hostLinkNames().includes(bridge), `bridge ${bridge} left`);
    assert.ok(!sh("nft", ["list", "tables"]).stdout.includes(`berth_t${sb.tag}`), "nft table left");
    assert.deepEqual(globalSysctls(), sysctlsBefore, "host-wide sysctls changed");
  });

  it("the remote reaches a -p HOST:80 port on the host's address, with its own source address", T, async () => {
    const port = await freePort();
    sb.ok(["run", "-d", "--name", web, "--network", net, "-p", `${port}:80`, "busybox", ...httpd("hello-remote")]);
    assert.equal((await until(() => httpGet(port).catch(() => undefined), { what: `httpd on 127.0.0.1:${port}` })).trim(), "hello-remote");
    const page = await until(() => remoteGet(`http://${hostAddr}:${port}/`), { what: `httpd on ${hostAddr}:${port} from the remote netns`, timeoutMs: 15_000 });
    assert.equal(page.trim(), "hello-remote");
    // DNAT only: the container sees the remote client, not a masqueraded host address.
    const seen = new RegExp(`^(\\[::ffff:)?${remoteAddr.replace(/\./g, "\\.")}\\]?:\\d+: response:200`, "m");
    // httpd logs on stderr, which `logs` keeps on its own stderr.
    const log = () => sb.run(["logs", web]).stderr;
    await until(() => seen.test(log()), { what: "the remote's address in httpd's log", timeoutMs: 5_000 }).catch(() => undefined);
    assert.match(log(), seen);
  });

  it("a port published on 127.0.0.1 only is not reachable from the remote", T, async () => {
    const port = await freePort();
    sb.ok(["run", "-d", "--name", local, "--network", net, "-p", `127.0.0.1:${port}:80`, "busybox", ...httpd("hello-local")]);
    assert.equal((await until(() => httpGet(port).catch(() => undefined), { what: `httpd on 127.0.0.1:${port}` })).trim(), "hello-local");
    assert.equal(remoteGet(`http://${hostAddr}:${port}/`), undefined, "the loopback-only port answered on the host's veth address");
    // The remote still reaches the other port: the refusal above is about the address, not the path.
    assert.equal(remoteGet(`http://${hostAddr}:${sb.ok(["port", web, "80/tcp"]).trim().split(":").pop()}/`)?.trim(), "hello-remote");
  });

  it("a remote that routes 127.0.0.1 to the host reaches no published port", T, async () => {
    const add = remote!.exec("ip", ["route", "add", "127.0.0.1/32", "via", hostAddr, "dev", "eth0"]);
    assert.equal(add.code, 0, add.stderr);
    // As an attacker would: accept answers from 127.0.0.1 on eth0 (the remote netns's own sysctl).
    const accept = remote!.exec("sysctl", ["-q", "-w", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.eth0.route_localnet=1"]);
    assert.equal(accept.code, 0, accept.stderr);
    try {
      const localPort = sb.ok(["port", local, "80/tcp"]).trim().split(":").pop();
      const webPort = sb.ok(["port", web, "80/tcp"]).trim().split(":").pop();
      assert.equal(remoteGet(`http://127.0.0.1:${localPort}/`), undefined, "127.0.0.1-only port reached from another host");
      assert.equal(remoteGet(`http://127.0.0.1:${webPort}/`), undefined, "a port reached through the host's loopback address from another host");
      // The host itself still has both.
      assert.equal((await httpGet(Number(localPort))).trim(), "hello-local");
      assert.equal((await httpGet(Number(webPort))).trim(), "hello-remote");
    } finally {
      remote!.exec("ip", ["route", "del", "127.0.0.1/32"]);
    }
  });

  it("something on the bridge that routes 127.0.0.1 to the host reaches none of the host's loopback services", T, async () => {
    // A stand-in for a container with NET_ADMIN (a lab router): a netns on the sandbox's bridge. The bridge has
    // route_localnet=1 (localhost DNAT needs it), which would otherwise let it in.
    const secret = httpServer((_q, r) => r.end("host-only\n"));
    await new Promise<void>((r) => secret.listen({ port: 0, host: "127.0.0.1" }, () => r()));
    const port = (secret.address() as { port: number }).port;
    try {
      rogue = PeerNetns.create({
        tag: `${tag}r`,
        bridge,
        peerAddr: `${netPrefix}.250/24`,
        peerRoutes: [`127.0.0.1/32 via ${netPrefix}.1`],
        peerSysctls: ["net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.eth0.route_localnet=1"],
      });
      assert.equal((await httpGet(port)).trim(), "host-only");
      // It is on the bridge: the published port answers it on the gateway address (hairpin DNAT).
      const webPort = sb.ok(["port", web, "80/tcp"]).trim().split(":").pop();
      const hairpin = await rogue.execAsync(process.execPath, ["-e", REMOTE_GET, `http://${netPrefix}.1:${webPort}/`]);
      assert.equal(hairpin.stdout.trim(), "hello-remote", hairpin.stderr);
      const sneak = await rogue.execAsync(process.execPath, ["-e", REMOTE_GET, `http://127.0.0.1:${port}/`]);
      assert.notEqual(sneak.code, 0, `a host service on 127.0.0.1 answered the bridge: ${sneak.stdout}`);
    } finally {
      rogue?.remove();
      await new Promise<void>((r) => secret.close(() => r()));
    }
  });

  it("rm and network rm leave nothing of the sandbox", T, async () => {
    sb.ok(["rm", "-f", web, local]);
    sb.ok(["network", "rm", net]);
    assert.deepEqual(await sb.leftovers(), []);
    assert.ok(!hostLinkNames().includes(bridge), `bridge ${bridge} left`);
  });
});
