/**
 * `make bench`: berth side by side with its peers in one run, medians and ratios.
 * Pull: a ~200 MB, 5-layer image from a local docker-registry into an empty store, 5 runs each of
 * berth, `podman pull` and `skopeo copy` (to an OCI dir). Images: `berth images` with 200 images.
 * Run and idle (bench/containers.ts): `run --rm busybox true` against podman, docker and runc; memory per
 * idle container. Networks (bench/network.ts): `run --rm` on the default bridge against podman and docker;
 * 100 containers started concurrently on one network. Labs (bench/labs.ts): ring labs of 10, 50 and 200 nodes
 * against podman plus `ip link`. BENCH_ONLY=pull|images|run|idle|netrun|attach100|labs (or a
 * comma-separated list) selects.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, statSync, readdirSync } from "node:fs";

import { join } from "node:path";
import { Readable } from "node:stream";
import { pack } from "tar-stream";
import { startRegistry } from "../test/helpers/registry.js";
import { bigImage, pushLayout } from "../test/helpers/fixtures.js";
import { Engine } from "../src/engine/engine.js";
import { benchIdle, benchRun } from "./containers.js";
import { benchAttach, benchNetRun } from "./network.js";
import { benchLabs } from "./labs.js";
import { BERTH, median, snapshotBerth } from "./peers.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const work = mkdtempSync(join("/var/tmp", "berth-bench-"));

interface Sample {
  secs: number;
  rssKiB: number;
}

/** Run a command under GNU time; returns wall seconds and peak RSS of the process tree's largest member. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Sample {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", cmd, ...args], { env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const last = r.stderr.trim().split("\n").pop()!;
  const [secs, rss] = last.split(" ").map(Number);
  return { secs: secs!, rssKiB: rss! };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).size;
  }
  return n;
}

async function benchPull(): Promise<string[]> {
  const reg = await startRegistry("http");
  const lines: string[] = [];
  try {
    const layout = await bigImage(join(work, "layout"), { layers: 5, totalMB: 200, seed: 7 });
    await pushLayout(layout, { host: reg.host, repo: "bench/big", tag: "v1", tls: false });
    const ref = `${reg.host}/bench/big:v1`;
    const compressedMB = dirBytes(join(work, "layout", "blobs")) / 1e6;
    const podmanConf = join(work, "containers.conf");
    writeFileSync(podmanConf, "[containers]\ndefault_ulimits = []\n[engine]\nevents_logger = \"file\"\n");
    const tools: Record<string, () => Sample> = {
      berth: () => {
        const d = mkdtempSync(join(work, "b-"));
        try {
          return timed(BERTH, ["--root", join(d, "root"), "--runroot", join(d, "run"), "pull", "-q", ref]);
        } finally {
          rmSync(d, { recursive: true, force: true });
        }
      },
      podman: () => {
        const d = mkdtempSync(join(work, "p-"));
        try {
          return timed("podman", ["--root", join(d, "root"), "--runroot", join(d, "run"), "--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref], { ...process.env, CONTAINERS_CONF: podmanConf });
        } finally {
          spawnSync("podman", ["--root", join(d, "root"), "--runroot", join(d, "run"), "--storage-driver", "overlay", "system", "reset", "-f"], { env: { ...process.env, CONTAINERS_CONF: podmanConf } });
          spawnSync("umount", ["-R", join(d, "root", "overlay")]);
          rmSync(d, { recursive: true, force: true });
        }
      },
      skopeo: () => {
        const d = mkdtempSync(join(work, "s-"));
        try {
          return timed("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${ref}`, `oci:${join(d, "oci")}:v1`]);
        } finally {
          rmSync(d, { recursive: true, force: true });
        }
      },
    };
    const results: Record<string, Sample[]> = { berth: [], podman: [], skopeo: [] };
    // Interleave the tools so that drift in the machine's state hits all of them alike, and let the
    // previous run's writes and deletions reach the disk first: on an ext4 mounted with `discard`,
    // freeing a few hundred MB slows the next run's file creation by a second or more.
    const settle = () => spawnSync("sync");
    for (let i = 0; i < RUNS; i++)
      for (const [name, run] of Object.entries(tools)) {
        settle();
        results[name]!.push(run());
      }
    const med = (n: string) => median(results[n]!.map((s) => s.secs));
    const rss = (n: string) => median(results[n]!.map((s) => s.rssKiB)) / 1024;
    lines.push(`pull ${compressedMB.toFixed(0)} MB (compressed), 5 layers, local registry, median of ${RUNS}`);
    lines.push("| tool | wall time (s) | MB/s | peak RSS (MiB) | vs podman |", "|---|---|---|---|---|");
    for (const n of ["berth", "podman", "skopeo"]) {
      lines.push(`| ${n} | ${med(n).toFixed(2)} | ${(compressedMB / med(n)).toFixed(0)} | ${rss(n).toFixed(0)} | ${(med(n) / med("podman")).toFixed(2)}x |`);
    }
    lines.push(`runs (s): ${Object.entries(results).map(([n, s]) => `${n} ${s.map((x) => x.secs.toFixed(2)).join(" ")}`).join("; ")}`);
  } finally {
    await reg.stop();
  }
  return lines;
}

async function tinyRootfs(i: number): Promise<Readable> {
  const p = pack();
  p.entry({ name: "id", mode: 0o644 }, `image ${i}\n`);
  p.finalize();
  return p as unknown as Readable;
}

async function benchImages(): Promise<string[]> {
  const d = mkdtempSync(join(work, "i-"));
  const root = join(d, "root");
  const runroot = join(d, "run");
  try {
    const engine = await Engine.open({ root, runroot });
    for (let i = 0; i < 200; i++) await engine.images.import(await tinyRootfs(i), { name: `bench/img${i}:v${i}` });
    engine.close();
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) samples.push(timed(BERTH, ["--root", root, "--runroot", runroot, "images"]).secs);
    const count = execFileSync(BERTH, ["--root", root, "--runroot", runroot, "images", "-q"], { encoding: "utf8" }).trim().split("\n").length;
    return [`\`berth images\` with ${count} images: median ${(median(samples) * 1000).toFixed(0)} ms of 20 runs (goal < 150 ms)`];
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

async function main() {
  const out: string[] = [`machine: ${execFileSync("nproc").toString().trim()} cores, ${(Number(execFileSync("awk", ["/MemTotal/ {print $2}", "/proc/meminfo"]).toString()) / 1048576).toFixed(0)} GiB, kernel ${execFileSync("uname", ["-r"]).toString().trim()}, node ${process.version}`];
  out.push(`podman ${execFileSync("podman", ["--version"]).toString().trim()}, ${execFileSync("skopeo", ["--version"]).toString().trim()}`);
  snapshotBerth(work);
  const only = process.env.BENCH_ONLY?.split(",");
  const want = (name: string) => !only || only.includes(name);
  try {
    if (want("pull")) out.push(...(await benchPull()));
    if (want("images")) out.push(...(await benchImages()));
    // Containers (bench/containers.ts): `run --rm` against podman, docker and bare runc; idle memory.
    if (want("run")) out.push(...(await benchRun(work)));
    if (want("idle")) out.push(...(await benchIdle(work)));
    // Networks (bench/network.ts): `run --rm` on the default bridge; 100 containers on one network.
    if (want("netrun")) out.push(...(await benchNetRun(work)));
    if (want("attach100")) out.push(...(await benchAttach(work)));
    // Labs (bench/labs.ts): ring labs of 10, 50 and 200 nodes, berth against podman plus `ip link`.
    if (want("labs")) out.push(...(await benchLabs(work)));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(out.join("\n"));
}


main().catch((e) => {
  console.error(e);
  process.exit(1);
});
