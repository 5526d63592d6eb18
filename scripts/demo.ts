/**
 * `make demo`: the main job end to end on this machine. Builds a busybox image, serves it from a local
 * registry (HTTPS with a CA made for the demo), and drives the berth CLI through pull, list, inspect,
 * save, load and remove, deploys the example lab (examples/triangle.yaml), pings across it and destroys it,
 * printing every command and its output. Everything it makes is removed at the end.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { removeNewBerthCgroupParents } from "../test/helpers/containers.js";
import { startRegistry } from "../test/helpers/registry.js";
import { busyboxImage, multiArchImage, pushLayout } from "../test/helpers/fixtures.js";

const BERTH = resolve(import.meta.dirname, "../../bin/berth");

async function main() {
  const work = mkdtempSync(join(tmpdir(), "berth-demo-"));
  const reg = await startRegistry("tls");
  const run = (...args: string[]) => {
    const full = ["--root", join(work, "root"), "--runroot", join(work, "run"), ...args];
    process.stdout.write(`\n$ berth ${args.join(" ")}\n`);
    process.stdout.write(execFileSync(BERTH, full, { encoding: "utf8" }));
  };
  try {
    process.stdout.write(`registry: https://${reg.host} (CA in ${reg.certsDir})\n`);
    await pushLayout(await busyboxImage(join(work, "busybox")), { host: reg.host, repo: "demo/busybox", tag: "1.0", tls: true, certDir: join(reg.certsDir!, reg.host) });
    await pushLayout(await multiArchImage(join(work, "multi")), { host: reg.host, repo: "demo/multi", tag: "latest", tls: true, certDir: join(reg.certsDir!, reg.host) });
    const certs = join(reg.certsDir!, reg.host);
    run("pull", "--cert-dir", certs, `${reg.host}/demo/busybox:1.0`);
    run("pull", "--cert-dir", certs, "--platform", "linux/arm64", `${reg.host}/demo/multi`);
    run("images", "--digests");
    run("image", "inspect", "--format", "{{.Id}} {{.Architecture}} {{json .Config.Cmd}}", `${reg.host}/demo/busybox:1.0`);
    run("tag", `${reg.host}/demo/busybox:1.0`, "demo/busybox:local");
    run("save", "-o", join(work, "busybox.tar.gz"), "demo/busybox:local");
    run("rmi", "-f", `${reg.host}/demo/busybox:1.0`);
    run("load", "-i", join(work, "busybox.tar.gz"));
    run("images");
    // A lab from the example manifest, with the image just loaded.
    const manifest = readFileSync(resolve(import.meta.dirname, "../../examples/triangle.yaml"), "utf8").replace("busybox:latest", "demo/busybox:local").replace("name: triangle", `name: demo-${process.pid}`);
    writeFileSync(join(work, "triangle.yaml"), manifest);
    run("lab", "up", join(work, "triangle.yaml"));
    try {
      run("lab", "exec", `demo-${process.pid}`, "r1", "ping", "-c", "1", "10.0.12.2");
      run("lab", "exec", `demo-${process.pid}`, "r3", "ping", "-c", "1", "10.9.0.2");
      run("lab", "graph", `demo-${process.pid}`);
    } finally {
      run("lab", "destroy", `demo-${process.pid}`);
    }
    run("rmi", "-f", "demo/busybox:local", `${reg.host}/demo/multi`);
    run("image", "prune");
    run("images", "-a");
  } finally {
    removeNewBerthCgroupParents();
    await reg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
