/**
 * The FRR router fixture image the lab tests build on: the cached debootstrap rootfs imports into berth,
 * runs FRR's daemons from /etc/frr/daemons under our start script (as PID 1 and under --init), applies an
 * injected frr.conf, stops cleanly on SIGTERM, and needs exactly the capabilities the helper adds.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox, until } from "../helpers/containers.js";
import { FRR_CAP_ARGS, FRR_NODE, frrDaemons, frrRootfsTar, importFrrImage } from "../helpers/frr-image.js";

/** A fresh machine runs debootstrap first (a minute or two, more while another process holds the lock). */
const BUILD = { timeout: 20 * 60_000 };
const T = { timeout: 90_000 };
const IMAGE = "frr:test";
const ROUTER_ID = "10.255.0.1";

function tarList(tar: string, args: string[] = []): string {
  const r = spawnSync("tar", ["--list", "--file", tar, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe("FRR fixture image", () => {
  let sb: ContainerSandbox;
  let tar: string;
  let buildSeconds: number;
  let daemons: string;
  let frrConf: string;

  before(async () => {
    const t0 = Date.now();
    tar = await frrRootfsTar();
    buildSeconds = (Date.now() - t0) / 1000;
    sb = await ContainerSandbox.create();
    await importFrrImage((a) => sb.okAsync(a), IMAGE);
    daemons = join(sb.dir, "daemons");
    writeFileSync(daemons, frrDaemons(["ospfd"]));
    frrConf = join(sb.dir, "frr.conf");
    writeFileSync(frrConf, `hostname r1\nlog file /var/log/frr/frr.log informational\nservice integrated-vtysh-config\n!\nrouter ospf\n ospf router-id ${ROUTER_ID}\n!\n`);
  }, BUILD);

  after(async () => {
    await sb?.cleanupAsync();
  });

  it("is a plain rootfs tarball with FRR, our start script and FRR's own file owners", T, async (t) => {
    t.diagnostic(`${tar}: ${(statSync(tar).size / 1e6).toFixed(1)} MB, ready after ${buildSeconds.toFixed(1)} s`);
    assert.equal(await frrRootfsTar(), tar);
    const names = new Set(tarList(tar).split("\n").map((n) => n.replace(/^\.\//, "").replace(/\/$/, "")));
    for (const n of ["usr/local/sbin/frr-node", "usr/lib/frr/zebra", "usr/lib/frr/ospfd", "usr/bin/vtysh", "usr/lib/frr/frrinit.sh", "usr/bin/ping", "usr/bin/ps", "etc/frr/daemons"]) {
      assert.ok(names.has(n), `${n} missing from the tarball`);
    }
    // Trimmed: no package cache, indexes, manuals or device nodes (the runtime makes /dev).
    const stray = [...names].filter((n) => /^(var\/cache\/apt|var\/lib\/apt\/lists|usr\/share\/man|usr\/share\/locale|dev)\/./.test(n));
    assert.deepEqual(stray, []);

    // Owners are the image's frr user and group by number (the host may have no frr, or another one).
    const passwd = spawnSync("tar", ["--extract", "--to-stdout", "--file", tar, "./etc/passwd"], { encoding: "utf8" }).stdout;
    const [, , uid, gid] = passwd.split("\n").find((l) => l.startsWith("frr:"))!.split(":");
    const long = tarList(tar, ["--verbose", "--numeric-owner", "./etc/frr/", "./usr/local/sbin/frr-node"]);
    assert.match(long, new RegExp(`^drwxr-x--- ${uid}/${gid} .* \\./etc/frr/$`, "m"));
    assert.match(long, new RegExp(`^-rw-r----- ${uid}/${gid} .* \\./etc/frr/frr\\.conf$`, "m"));
    assert.match(long, /^-rwxr-xr-x 0\/0 .* \.\/usr\/local\/sbin\/frr-node$/m);
  });

  for (const init of [false, true]) {
    const name = init ? "r-init" : "r-pid1";
    const where = init ? "under --init" : "as PID 1";

    it(`runs zebra, ospfd and staticd as frr with frr-node ${where}, applying the injected frr.conf`, T, async () => {
      const id = sb
        .ok(["run", "-d", "--name", name, ...(init ? ["--init"] : []), "--network", "none", ...FRR_CAP_ARGS,
          "-v", `${daemons}:/etc/frr/daemons:ro`, "-v", `${frrConf}:/etc/frr/frr.conf:ro`, IMAGE])
        .trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      // watchfrr starts the daemons one by one after frr-node returns from frrinit.sh.
      await until(() => sb.run(["exec", name, "vtysh", "-c", "show daemons"]).stdout.includes("ospfd"), { what: `${name}'s ospfd to answer vtysh`, timeoutMs: 30_000 });

      assert.match(sb.ok(["exec", name, "vtysh", "-c", "show version"]), /^FRRouting \d+\.\d+/m);
      const ospf = sb.ok(["exec", name, "vtysh", "-c", "show ip ospf"]);
      assert.match(ospf, new RegExp(`OSPF Routing Process, Router ID: ${ROUTER_ID.replace(/\./g, "\\.")}`));

      const ps = sb.ok(["exec", name, "ps", "-e", "-o", "pid=,user=,comm=,args="]);
      const procs = ps.split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/));
      const user = (comm: string) => procs.find((p) => p[2] === comm)?.[1];
      for (const d of ["zebra", "ospfd", "staticd"]) assert.equal(user(d), "frr", `${d} in:\n${ps}`);
      assert.equal(user("watchfrr"), "root", ps);
      // The kernel names a script's process after the script.
      const node = procs.find((p) => p[2] === "frr-node");
      assert.equal(node?.slice(3).join(" "), `/bin/bash ${FRR_NODE}`, ps);
      if (init) assert.notEqual(node?.[0], "1", ps);
      else assert.equal(node?.[0], "1", ps);
    });

    it(`stops FRR cleanly on SIGTERM ${where} and leaves nothing behind`, T, async () => {
      const id = sb.inspectF(name, "{{.Id}}");
      const t0 = Date.now();
      sb.ok(["stop", name]);
      // Well under the 10 s stop timeout: the TERM was handled, not escalated to a KILL.
      assert.ok(Date.now() - t0 < 8_000, `stop took ${Date.now() - t0} ms`);
      assert.equal(sb.inspectF(name, "{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
      const logs = sb.ok(["logs", name]);
      // Not anchored to lines or words: frrinit.sh stops daemons in parallel, and their lines can
      // interleave ("Stopped ospfdStopped staticd.").
      for (const d of ["watchfrr", "ospfd", "zebra"]) assert.match(logs, new RegExp(`Stopped ${d}`), logs);
      sb.ok(["rm", name]);
      assert.deepEqual(await sb.leftovers([id]), []);
    });
  }

  it("FRR's daemons refuse to start without SYS_ADMIN, even with NET_ADMIN", T, async () => {
    await sb.drainWatch();
    const known = new Set(sb.ids);
    const r = await sb.runLimited(["run", "--rm", "--network", "none", "--cap-add", "NET_ADMIN", IMAGE,
      "/usr/lib/frr/zebra", "-A", "127.0.0.1", "-z", "/tmp/zserv.api", "-i", "/tmp/zebra.pid"]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout + r.stderr, /cap_set_proc failed/);
    assert.match(r.stdout + r.stderr, /Wanted caps: .*cap_sys_admin/);
    await sb.drainWatch();
    const fresh = [...sb.ids].filter((i) => !known.has(i));
    assert.equal(fresh.length, 1);
    assert.deepEqual(await sb.leftovers(fresh), []);
  });
});
