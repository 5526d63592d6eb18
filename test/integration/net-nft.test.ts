/**
 * berth's nftables table for real, in a unique test table: `nft -c` accepts the rendered script,
 * applying replaces the table atomically, a published port answers on 127.0.0.1 and on the bridge
 * address (localhost DNAT with route_localnet on the test bridge only), errors are one line, and
 * deleting leaves no table, link, netns or sysctl change behind.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { applySysctls, attach, ensureBridge, removeBridge, restoreSysctls, type SysctlSetting } from "../../src/network/apply.js";
import { hostVethName } from "../../src/network/link-plan.js";
import { createNetns, deleteNetns, listNetns } from "../../src/network/netns.js";
import { applyNft, deleteNftTable, listNftTables, localnetSysctls, renderNftScript, type NftConfig } from "../../src/network/nft.js";
import { berthError } from "../helpers/errors.js";

const T = { timeout: 30_000 };
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });
const sfx = randomBytes(3).toString("hex");
const TABLE = `berth_test_${sfx}`;
const BR = `bn${sfx}`;
const BR2 = `bo${sfx}`;

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
  });
}

async function retry<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("net: nftables table", () => {
  let runroot = "";
  let ns = "";
  let httpd: ChildProcess | undefined;
  let restore: SysctlSetting[] = [];
  const v4 = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
  const hostPort = randomInt(30000, 40000);
  const globalsBefore = ["net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/default/route_localnet", "net/ipv6/conf/all/forwarding"].map(
    (k) => [k, readFileSync(`/proc/sys/${k}`, "utf8")] as const,
  );
  const cfg = (ports: NftConfig["ports"]): NftConfig => ({
    table: TABLE,
    networks: [
      { bridge: BR, subnets: [`${v4}.0/24`, "fd42:beef:1::/64"] },
      { bridge: BR2, subnets: ["10.251.0.0/24"], internal: true },
    ],
    ports,
  });

  before(async () => {
    assert.equal(process.getuid?.(), 0, "these tests need root (make test runs them as root)");
    runroot = mkdtempSync(join(tmpdir(), "berth-nft-"));
  });

  after(async () => {
    if (httpd && httpd.exitCode === null) httpd.kill("SIGKILL");
    await deleteNftTable(TABLE).catch(() => undefined);
    await restoreSysctls(restore).catch(() => undefined);
    for (const n of [hostVethName(`n${sfx}`, "eth0"), BR, BR2]) sh("ip", ["link", "delete", "dev", n]);
    for (const n of await listNetns(runroot).catch(() => [])) await deleteNetns(runroot, n).catch(() => undefined);
    rmSync(runroot, { recursive: true, force: true });
    assert.ok(!(await listNftTables()).includes(`inet ${TABLE}`), "test table removed");
    for (const [k, v] of globalsBefore) assert.equal(readFileSync(`/proc/sys/${k}`, "utf8"), v, `${k} unchanged`);
  });

  it("nft -c accepts the rendered script and check mode creates nothing", T, async () => {
    const script = renderNftScript(cfg([{ hostPort, proto: "tcp", containerIp: `${v4}.2`, containerPort: 8080 }, { hostPort, proto: "udp", containerIp: "fd42:beef:1::2", containerPort: 53 }]));
    await applyNft(script, { check: true });
    assert.ok(!(await listNftTables()).includes(`inet ${TABLE}`));
  });

  it("a broken script fails with one line that points at the offending rule", T, async () => {
    const broken = renderNftScript(cfg([])).replace("ct state established,related accept", "ct state bogus accept");
    await assert.rejects(applyNft(broken, { check: true }), (e: Error) => {
      assert.match(e.message, /^nft -c -f -: .*Error: .*\(in: ct state bogus accept\)$/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  });

  it("applies, replaces atomically, and a published port answers on 127.0.0.1 and on the gateway", T, async () => {
    await ensureBridge({ name: BR, addresses: [`${v4}.1/24`] });
    await ensureBridge({ name: BR2 });
    ns = await createNetns(runroot, `n${sfx}`);
    await attach({ netnsPath: ns, key: `n${sfx}`, interfaces: [{ kind: "veth", bridge: BR, ifname: "eth0", addresses: [`${v4}.2/24`], gateways: [`${v4}.1`] }] });
    const www = join(runroot, "www");
    sh("mkdir", ["-p", www]);
    writeFileSync(join(www, "index.html"), `hello ${sfx}\n`);
    httpd = spawn("nsenter", [`--net=${ns}`, "busybox", "httpd", "-f", "-p", `${v4}.2:8080`, "-h", www], { stdio: "ignore" });
    // The server itself answers inside the netns before any NAT is involved.
    await retry(async () => {
      const r = sh("nsenter", [`--net=${ns}`, "busybox", "wget", "-q", "-O", "-", `http://${v4}.2:8080/`]);
      if (r.status !== 0) throw new Error(r.stderr);
    });

    await applyNft(renderNftScript(cfg([])));
    await applyNft(renderNftScript(cfg([{ hostPort, proto: "tcp", containerIp: `${v4}.2`, containerPort: 8080 }])));
    assert.equal((await listNftTables()).filter((t) => t === `inet ${TABLE}`).length, 1, "one table, replaced");
    const listed = sh("nft", ["list", "table", "inet", TABLE]).stdout;
    assert.match(listed, new RegExp(`tcp dport ${hostPort} dnat ip to ${v4.replace(/\./g, "\\.")}\\.2:8080`));
    assert.match(listed, /iifname "bo[0-9a-f]+" oifname != "bo[0-9a-f]+" drop/);

    restore = await applySysctls(localnetSysctls(cfg([]).networks));
    assert.deepEqual(restore, [{ key: `net/ipv4/conf/${BR}/route_localnet`, value: "0" }], "only the test bridge's (non-internal) route_localnet changed");
    assert.equal(await retry(() => httpGet(`http://127.0.0.1:${hostPort}/`)), `hello ${sfx}\n`);
    assert.equal(await retry(() => httpGet(`http://${v4}.1:${hostPort}/`)), `hello ${sfx}\n`);

    await restoreSysctls(restore);
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${BR}/route_localnet`, "utf8"), "0\n");
    restore = [];
  });

  it("deleting the table is idempotent and leaves nothing", T, async () => {
    await deleteNftTable(TABLE);
    await deleteNftTable(TABLE);
    assert.ok(!(await listNftTables()).includes(`inet ${TABLE}`));
    await assert.rejects(httpGet(`http://127.0.0.1:${hostPort}/`), "no DNAT any more");
    httpd?.kill("SIGKILL");
    await removeBridge(BR);
    await removeBridge(BR2);
    await deleteNetns(runroot, `n${sfx}`);
    const left = (JSON.parse(sh("ip", ["-j", "link"]).stdout) as { ifname: string }[]).filter((l) => l.ifname.includes(sfx) || l.ifname === hostVethName(`n${sfx}`, "eth0"));
    assert.deepEqual(left, []);
  });

  it("refuses a bad table name before running nft", T, async () => {
    await assert.rejects(deleteNftTable("no-dashes"), berthError("INVALID_ARGUMENT", /table name/));
  });
});
