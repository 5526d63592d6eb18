/**
 * A real routing lab: three FRR routers (Debian's frr, image built by debootstrap and cached outside the
 * repo) in a triangle, configured only by startup configs injected at deploy. OSPF must bring every
 * adjacency to Full and every router must learn the others' loopbacks; after a redeploy of one router,
 * the lab converges again. r1 also runs the image's sshd with an injected authorized key, for a real
 * `berth lab ssh`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox, until } from "../helpers/containers.js";
import { importFrrImage } from "../helpers/frr-image.js";

const T = { timeout: 600_000 };

/** Router i's config: loopback 10.255.0.i/32, point-to-point OSPF on its two links, fast timers. */
function frrConf(name: string, id: number, links: { ifname: string; address: string }[]): string {
  const ifs = links.map((l) => `interface ${l.ifname}\n ip address ${l.address}\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\nexit\n`).join("!\n");
  return `frr defaults traditional
hostname ${name}
log stdout
!
interface lo
 ip address 10.255.0.${id}/32
exit
!
${ifs}!
router ospf
 ospf router-id 10.255.0.${id}
 network 10.0.0.0/16 area 0
 network 10.255.0.0/24 area 0
exit
!
`;
}

describe("labs: an OSPF triangle of FRR routers", () => {
  let sb: ContainerSandbox;
  const lab = `ospf${Math.random().toString(36).slice(2, 6)}`;
  let dir: string;

  before(async () => {
    sb = await ContainerSandbox.create();
    await importFrrImage(async (args) => sb.ok(args), "frr:test");
    dir = join(sb.dir, "ospf");
    mkdirSync(dir);
    const links: Record<string, { ifname: string; address: string }[]> = {
      r1: [{ ifname: "eth1", address: "10.0.12.1/30" }, { ifname: "eth2", address: "10.0.31.2/30" }],
      r2: [{ ifname: "eth1", address: "10.0.12.2/30" }, { ifname: "eth2", address: "10.0.23.1/30" }],
      r3: [{ ifname: "eth1", address: "10.0.23.2/30" }, { ifname: "eth2", address: "10.0.31.1/30" }],
    };
    for (const [r, l] of Object.entries(links)) writeFileSync(join(dir, `${r}.conf`), frrConf(r, Number(r.slice(1)), l));
    const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "berth-test", "-f", join(dir, "id")], { encoding: "utf8" });
    assert.equal(keygen.status, 0, keygen.stderr);
    writeFileSync(
      join(dir, "lab.yaml"),
      `name: ${lab}
defaults: {model: frr, image: "frr:test"}
nodes:
  r1:
    startup-config: r1.conf
    files: [{source: id.pub, destination: /root/.ssh/authorized_keys, mode: "0600"}]
    exec: ["ssh-keygen -A", "mkdir -p /run/sshd", "/usr/sbin/sshd"]
  r2: {startup-config: r2.conf}
  r3: {startup-config: r3.conf}
links:
  - endpoints: [r1:eth1, r2:eth1]
  - endpoints: [r2:eth2, r3:eth1]
  - endpoints: [r3:eth2, r1:eth2]
`,
    );
  });

  after(async () => {
    await sb.cleanupAsync();
  });

  const vtysh = (node: string, command: string) => sb.run(["lab", "exec", lab, node, "vtysh", "-c", command]);

  /** Wait until `node` has `count` OSPF neighbors in Full state. */
  const fullNeighbors = (node: string, count: number) =>
    until(
      () => {
        const r = vtysh(node, "show ip ospf neighbor json");
        if (r.code !== 0) return undefined;
        const n = (JSON.parse(r.stdout) as { neighbors?: Record<string, { state?: string; nbrState?: string }[]> }).neighbors ?? {};
        const full = Object.values(n).flat().filter((x) => /^Full/.test(x.nbrState ?? x.state ?? ""));
        return full.length >= count ? full : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: `${node}: ${count} OSPF neighbors Full` },
    );

  /** Wait until `node` has an OSPF route to each of the other routers' loopbacks. */
  const learnsLoopbacks = (node: string) =>
    until(
      () => {
        const r = vtysh(node, "show ip route ospf json");
        if (r.code !== 0) return undefined;
        const routes = JSON.parse(r.stdout) as Record<string, { protocol: string; selected?: boolean }[]>;
        const want = ["1", "2", "3"].filter((i) => `r${i}` !== node).map((i) => `10.255.0.${i}/32`);
        return want.every((p) => routes[p]?.some((x) => x.protocol === "ospf" && x.selected)) ? want : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: `${node}: OSPF routes to the other loopbacks` },
    );

  it("deploys three routers whose injected configs bring OSPF to Full", T, async () => {
    const r = sb.run(["lab", "up", "-q", join(dir, "lab.yaml")]);
    assert.equal(r.code, 0, r.stderr);
    // The model's daemons file and the startup config landed with FRR's ownership and mode.
    const ls = sb.run(["lab", "exec", lab, "r1", "stat", "-c", "%U:%G %a %n", "/etc/frr/frr.conf", "/etc/frr/daemons"]);
    assert.match(ls.stdout, /frr:frr 640 \/etc\/frr\/frr\.conf/);
    assert.match(ls.stdout, /frr:frr 640 \/etc\/frr\/daemons/);
    assert.equal(sb.run(["lab", "exec", lab, "r1", "sysctl", "-n", "net.ipv4.ip_forward"]).stdout.trim(), "1");
    for (const n of ["r1", "r2", "r3"]) await fullNeighbors(n, 2);
    for (const n of ["r1", "r2", "r3"]) await learnsLoopbacks(n);
    const ping = sb.run(["lab", "exec", lab, "r1", "ping", "-c", "1", "-W", "3", "-I", "10.255.0.1", "10.255.0.3"]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  });

  it("lab ssh logs in to a router's sshd at its management address", T, () => {
    const r = sb.run(["lab", "ssh", "-i", join(dir, "id"), lab, "r1", "--", "uname", "-n"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "r1");
    // The remote command's exit code comes back as berth's.
    assert.equal(sb.run(["lab", "ssh", "-i", join(dir, "id"), lab, "r1", "--", "exit", "7"]).code, 7);
    const bad = sb.run(["lab", "ssh", "-i", join(dir, "nokey"), lab, "r1", "--", "true"]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /identity file .*nokey does not exist/);
  });

  it("converges again after one router is redeployed", T, async () => {
    const r = sb.run(["lab", "redeploy", "-q", lab, "r2"]);
    assert.equal(r.code, 0, r.stderr);
    await fullNeighbors("r2", 2);
    for (const n of ["r1", "r2", "r3"]) await learnsLoopbacks(n);
  });

  it("destroy leaves nothing", T, async () => {
    const r = sb.run(["lab", "destroy", lab]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await sb.leftovers(), []);
  });
});
