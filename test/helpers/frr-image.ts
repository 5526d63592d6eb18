/**
 * An FRRouting router image for lab tests: a Debian rootfs made by `debootstrap --variant=minbase` with
 * FRR, plus a start script of ours that runs FRR as the container's main process.
 *
 * debootstrap costs a minute or two and needs the network, so the result is a plain rootfs tarball
 * cached outside the checkout (/var/cache/berth-test, or $BERTH_TEST_CACHE): a machine pays for it once,
 * every checkout and test process shares it. The cache file name carries a hash of everything that shapes
 * the tarball (suite, architecture, packages, our files, RECIPE_VERSION), so a changed recipe never reuses
 * an old tarball. Builds run under one lock file and land with a rename, so concurrent test processes
 * build once and a crash mid-build leaves nothing a reader could pick up.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, promises as fsp, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Bump when the build steps change in a way the hashed inputs below do not show (trimming, tar flags). */
const RECIPE_VERSION = 1;

/** Beyond minbase: FRR itself, the tools a lab test uses to look at a router, and sshd for `berth lab ssh`. */
export const FRR_PACKAGES: readonly string[] = ["frr", "iproute2", "iputils-ping", "procps", "openssh-server"];

export const FRR_NODE = "/usr/local/sbin/frr-node";
/** The image's CMD. */
export const FRR_CMD: readonly string[] = [FRR_NODE];
/** Name importFrrImage gives the image unless told otherwise. */
export const FRR_IMAGE = "frr:latest";

/**
 * Capabilities FRR needs on top of Docker's default set: every FRR daemon insists on all of its wanted
 * capabilities at start-up (privs_init fails otherwise), and zebra and ospfd want NET_ADMIN and SYS_ADMIN
 * besides the default NET_RAW and NET_BIND_SERVICE.
 */
export const FRR_CAPS: readonly string[] = ["NET_ADMIN", "SYS_ADMIN"];
export const FRR_CAP_ARGS: readonly string[] = FRR_CAPS.flatMap((c) => ["--cap-add", c]);

const CACHE_DIR = process.env.BERTH_TEST_CACHE || "/var/cache/berth-test";
const LOCK_WAIT_S = 1800;

/**
 * Debian's watchfrr daemonizes, so something must stay in the foreground; and bash as PID 1 ignores
 * TERM unless it traps it. Debian's own frrinit.sh does the starting: it reads /etc/frr/daemons, makes
 * /var/run/frr with FRR's ownership and hands the daemon list to watchfrr.
 */
const FRR_NODE_SCRIPT = `#!/bin/bash
# Main process of a berth FRR test container (PID 1, or under --init). Written by the test fixture
# test/helpers/frr-image.ts in berth's repository.
set -u
FRRINIT=/usr/lib/frr/frrinit.sh

stop() {
	trap - TERM INT
	# Stops watchfrr first, so it does not restart the daemons being stopped.
	"$FRRINIT" stop
	exit 0
}
trap stop TERM INT

# In the background: bash runs a trap only after the foreground command returns, and frrinit.sh start
# waits until every daemon answers, which never happens if one cannot start.
"$FRRINIT" start &
wait $!

pid=$(cat /var/run/frr/watchfrr.pid 2>/dev/null) || { echo "frr-node: watchfrr did not start" >&2; exit 1; }
while kill -0 "$pid" 2>/dev/null; do
	sleep 1 & wait $!
done
echo "frr-node: watchfrr exited" >&2
exit 1
`;

/** Debian's default logs to syslog, which a container lacks: a file can at least be read with exec. */
const FRR_CONF = `log file /var/log/frr/frr.log informational
service integrated-vtysh-config
`;

/** Daemons Debian's frrinit.sh knows besides zebra and staticd, which it always starts. */
const FRR_DAEMONS = ["bgpd", "ospfd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "pim6d", "ldpd", "nhrpd", "eigrpd", "babeld", "sharpd", "pbrd", "bfdd", "fabricd", "vrrpd", "pathd"];

/**
 * Content for /etc/frr/daemons enabling these daemons (zebra and staticd always run). The vty TCP
 * listeners stay on loopback; vtysh talks over unix sockets anyway.
 */
export function frrDaemons(enabled: readonly string[]): string {
  const unknown = enabled.filter((d) => d !== "zebra" && d !== "staticd" && !FRR_DAEMONS.includes(d));
  if (unknown.length) throw new Error(`frrDaemons: unknown FRR daemon(s): ${unknown.join(", ")}`);
  const lines = FRR_DAEMONS.map((d) => `${d}=${enabled.includes(d) ? "yes" : "no"}`);
  lines.push("vtysh_enable=yes", `zebra_options="-A 127.0.0.1 -s 90000000"`, `staticd_options="-A 127.0.0.1"`);
  for (const d of FRR_DAEMONS) if (enabled.includes(d)) lines.push(`${d}_options="-A 127.0.0.1"`);
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Host facts

interface AptSource {
  mirror: string;
  suite: string;
}

/**
 * The host's main Debian suite and mirror: the image matches the host, and the host's mirror is the one
 * known to be reachable. Reads deb822 .sources files and one-line .list files.
 */
function hostAptSource(): AptSource {
  const files = ["/etc/apt/sources.list"];
  try {
    for (const n of readdirSync("/etc/apt/sources.list.d").sort()) if (n.endsWith(".sources") || n.endsWith(".list")) files.push(join("/etc/apt/sources.list.d", n));
  } catch {
    /* no sources.list.d */
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const s of f.endsWith(".sources") ? deb822Sources(text) : oneLineSources(text)) {
      // A release suite (bookworm), not -updates or -security, from a Debian archive.
      if (/^[a-z]+$/.test(s.suite) && /\/debian\/?$/.test(s.mirror)) return { mirror: s.mirror.replace(/\/$/, ""), suite: s.suite };
    }
  }
  const codename = /^VERSION_CODENAME=(\w+)$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
  if (!codename) throw new Error("frr-image: no Debian suite in /etc/apt/sources.list* or /etc/os-release");
  return { mirror: "http://deb.debian.org/debian", suite: codename };
}

function deb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, "mi").exec(stanza.split("\n").filter((l) => !l.startsWith("#")).join("\n"))?.[1]?.trim().split(/\s+/) ?? [];
    if (!field("Types").includes("deb") || field("Enabled")[0] === "no") continue;
    for (const mirror of field("URIs")) for (const suite of field("Suites")) out.push({ mirror, suite });
  }
  return out;
}

function oneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const line of text.split("\n")) {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
    if (m) out.push({ mirror: m[1]!, suite: m[2]! });
  }
  return out;
}

function dpkgArch(): Promise<string> {
  return run("dpkg", ["--print-architecture"]).then((s) => s.trim());
}

// ---------------------------------------------------------------------------------------------------------
// Processes

const ENV = { ...process.env, PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, LC_ALL: "C", DEBIAN_FRONTEND: "noninteractive" };

/**
 * Run to completion; stdout, or an error with the end of stderr (or of `logFile`, where output went).
 * `lockFd` becomes the child's fd 3, so the child holds the build lock too (see lock()).
 */
function run(cmd: string, args: string[], opts: { logFile?: string; lockFd?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const fd = opts.logFile ? openSync(opts.logFile, "a") : undefined;
    const stdio = ["ignore", fd ?? "pipe", fd ?? "pipe", ...(opts.lockFd !== undefined ? [opts.lockFd] : [])] as const;
    const p = spawn(cmd, args, { env: ENV, stdio: [...stdio] });
    if (fd !== undefined) closeSync(fd);
    let stdout = "";
    let stderr = "";
    p.stdout?.on("data", (d) => (stdout += d));
    p.stderr?.on("data", (d) => (stderr += d));
    p.on("error", (e) => reject(new Error(`${cmd}: ${e.message}`)));
    p.on("close", (code, sig) => {
      if (code === 0) return resolve(stdout);
      let tail = stderr;
      if (opts.logFile) tail = readFileSync(opts.logFile, "utf8");
      tail = tail.trim().split("\n").slice(-25).join("\n");
      reject(new Error(`${cmd} ${args.join(" ")} failed (${sig ?? `exit ${code}`}):\n${tail}`));
    });
  });
}

/**
 * An exclusive flock(2) on `path`, taken by flock(1) on an open file of ours (Node has no flock). Such a
 * lock lives as long as any process holds that open file: the build commands get it as fd 3, so a test
 * process killed mid-build keeps the lock held until its orphaned debootstrap has finished too, and the
 * next builder never deletes a dir under a running debootstrap. No process left: no lock, never stale.
 */
async function lock(path: string): Promise<{ fd: number; release: () => void }> {
  const fd = openSync(path, "a");
  try {
    await run("flock", ["--exclusive", "--wait", String(LOCK_WAIT_S), "3"], { lockFd: fd });
  } catch (e) {
    closeSync(fd);
    throw new Error(`frr-image: could not lock ${path} within ${LOCK_WAIT_S} s: ${(e as Error).message}`);
  }
  return { fd, release: () => closeSync(fd) };
}

// ---------------------------------------------------------------------------------------------------------
// Build

/** Mount points at or under dir, deepest first (octal escapes of mountinfo decoded). */
function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp && (mp === dir || mp.startsWith(`${dir}/`))) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Remove a build dir. debootstrap mounts proc and sys inside the target while it configures packages; a
 * build killed then leaves them mounted, and a recursive delete must never walk into the host's /sys.
 */
async function removeBuildDir(dir: string): Promise<void> {
  for (const m of mountsUnder(dir)) await run("umount", ["-l", m]).catch(() => undefined);
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`frr-image: not removing ${dir}: still mounted: ${left.join(", ")}`);
  await fsp.rm(dir, { recursive: true, force: true });
}

/**
 * Children of a directory of the rootfs, refusing a path that leaves it through a symlink: the rootfs
 * has absolute symlinks (var/run -> /run) that would point a delete at the host.
 */
async function rootfsChildren(rootfs: string, rel: string): Promise<string[]> {
  const dir = join(rootfs, rel);
  let real: string;
  try {
    real = await fsp.realpath(dir);
  } catch {
    return [];
  }
  if (real !== join(await fsp.realpath(rootfs), rel)) throw new Error(`frr-image: ${rel} in the rootfs resolves to ${real}`);
  return (await fsp.readdir(dir)).map((n) => join(dir, n));
}

/** What the image needs no copy of: package caches and indexes, docs, logs of the build, host files. */
async function trimRootfs(rootfs: string): Promise<void> {
  const emptied = ["var/cache/apt", "var/lib/apt/lists", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian", "dev"];
  for (const rel of emptied) for (const p of await rootfsChildren(rootfs, rel)) await fsp.rm(p, { recursive: true, force: true });
  // Licences stay (copyright files are what a redistributed rootfs must keep); the rest of the docs go.
  const walk = async (rel: string): Promise<void> => {
    for (const p of await rootfsChildren(rootfs, rel)) {
      const st = await fsp.lstat(p);
      const childRel = p.slice(rootfs.length + 1);
      if (st.isDirectory()) await walk(childRel);
      else if (!p.endsWith("/copyright")) await fsp.rm(p, { force: true });
    }
  };
  await walk("usr/share/doc");
  for (const p of await rootfsChildren(rootfs, "var/log")) {
    const st = await fsp.lstat(p);
    if (st.isFile() && /\.log$/.test(p)) await fsp.rm(p);
  }
  for (const p of await rootfsChildren(rootfs, "var/log/apt")) await fsp.rm(p, { recursive: true, force: true });
  for (const rel of ["var/cache/debconf", "var/lib/dpkg"]) for (const p of await rootfsChildren(rootfs, rel)) if (p.endsWith("-old")) await fsp.rm(p);
  // debootstrap copies the build host's hostname and resolver; the runtime provides both to containers.
  for (const rel of ["etc/hostname", "etc/resolv.conf"]) await fsp.rm(join(rootfs, rel), { force: true });
  // Host keys made by openssh-server's postinst would be shared by every container of the image: a
  // node makes its own (ssh-keygen -A) before it starts sshd.
  for (const p of await rootfsChildren(rootfs, "etc/ssh")) if (/\/ssh_host_/.test(p)) await fsp.rm(p, { force: true });
}

/** uid and gid of a user in the rootfs (ids in the image, not the host's). */
function rootfsUser(rootfs: string, name: string): { uid: number; gid: number } {
  const line = readFileSync(join(rootfs, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${name}:`));
  const f = line?.split(":");
  if (!f) throw new Error(`frr-image: no user ${name} in the rootfs`);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

async function addOurFiles(rootfs: string): Promise<void> {
  const node = join(rootfs, FRR_NODE.slice(1));
  await fsp.mkdir(join(node, ".."), { recursive: true });
  await fsp.writeFile(node, FRR_NODE_SCRIPT, { mode: 0o755 });
  await fsp.chmod(node, 0o755);
  // As the package ships it: frr.conf may hold passwords, yet the daemons, running as frr, must read it.
  const conf = join(rootfs, "etc/frr/frr.conf");
  const frr = rootfsUser(rootfs, "frr");
  await fsp.writeFile(conf, FRR_CONF, { mode: 0o640 });
  await fsp.chown(conf, frr.uid, frr.gid);
  await fsp.chmod(conf, 0o640);
}

async function build(src: AptSource, target: string, lockFd: number): Promise<void> {
  if (!existsSync("/usr/sbin/debootstrap")) throw new Error("frr-image: debootstrap is not installed (make test-deps installs it)");
  await fsp.mkdir(CACHE_DIR, { recursive: true });
  // Under the lock no one else builds: build dirs still here are from a crash.
  for (const n of await fsp.readdir(CACHE_DIR)) if (n.startsWith(".build-frr-")) await removeBuildDir(join(CACHE_DIR, n));
  const dir = await fsp.mkdtemp(join(CACHE_DIR, ".build-frr-"));
  try {
    const rootfs = join(dir, "rootfs");
    const log = join(dir, "debootstrap.log");
    await run("debootstrap", ["--variant=minbase", `--include=${FRR_PACKAGES.join(",")}`, "--components=main", src.suite, rootfs, src.mirror], { logFile: log, lockFd }).catch(async (e: Error) => {
      // debootstrap's own log inside the target says which package failed; its stdout rarely does.
      const inner = await fsp.readFile(join(rootfs, "debootstrap/debootstrap.log"), "utf8").catch(() => "");
      throw new Error(`${e.message}${inner ? `\n--- debootstrap.log:\n${inner.trim().split("\n").slice(-25).join("\n")}` : ""}`);
    });
    if (mountsUnder(rootfs).length) throw new Error(`frr-image: debootstrap left mounts: ${mountsUnder(rootfs).join(", ")}`);
    await addOurFiles(rootfs);
    await trimRootfs(rootfs);
    const tar = join(dir, "rootfs.tar");
    // Numeric owners: the image's frr user is not the host's. security.capability keeps ping's file
    // capability; other xattrs (none expected) would only be noise.
    await run("tar", ["--create", "--file", tar, "--directory", rootfs, "--numeric-owner", "--sort=name", "--xattrs", "--xattrs-include=security.capability", "."], { lockFd });
    const fh = await fsp.open(tar, "r");
    await fh.sync();
    await fh.close();
    await fsp.rename(tar, target);
  } finally {
    await removeBuildDir(dir);
  }
}

let pending: Promise<string> | undefined;

/**
 * Path of the cached FRR rootfs tarball (plain, uncompressed; for `berth import`), built first if this
 * machine has none for the current recipe. Slow the first time: give the caller's hook minutes.
 */
export function frrRootfsTar(): Promise<string> {
  pending ??= (async () => {
    const src = hostAptSource();
    const arch = await dpkgArch();
    const key = createHash("sha256")
      .update(JSON.stringify({ v: RECIPE_VERSION, suite: src.suite, arch, packages: FRR_PACKAGES, node: FRR_NODE_SCRIPT, conf: FRR_CONF }))
      .digest("hex")
      .slice(0, 16);
    const target = join(CACHE_DIR, `frr-rootfs-${src.suite}-${arch}-${key}.tar`);
    if (existsSync(target)) return target;
    await fsp.mkdir(CACHE_DIR, { recursive: true });
    const held = await lock(join(CACHE_DIR, "frr-rootfs.lock"));
    try {
      // Another process may have built it while this one waited for the lock.
      if (!existsSync(target)) await build(src, target, held.fd);
    } finally {
      held.release();
    }
    return target;
  })();
  // A failed build is not remembered: a later call (another test file's hook) tries again.
  pending.catch(() => (pending = undefined));
  return pending;
}

/**
 * Import the FRR image into the berth root that `cli` runs against (e.g. `(a) => sandbox.okAsync(a)`),
 * with FRR_CMD as its CMD; returns the image ID.
 */
export async function importFrrImage(cli: (args: string[]) => Promise<string>, name: string = FRR_IMAGE): Promise<string> {
  const tar = await frrRootfsTar();
  const out = await cli(["import", "-q", "--change", `CMD ${JSON.stringify(FRR_CMD)}`, "--message", "FRR test image (debootstrap minbase)", tar, name]);
  return out.trim();
}
