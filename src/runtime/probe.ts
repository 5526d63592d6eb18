import { existsSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import { invalid, precondition } from "../core/errors.js";
import { run } from "./exec-file.js";

export const KNOWN_RUNTIMES = ["crun", "runc"] as const;
const SEARCH = ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"];

export function findBinary(name: string): string | undefined {
  if (name.includes("/")) return existsSync(name) ? name : undefined;
  return SEARCH.map((d) => join(d, name)).find((p) => existsSync(p));
}

interface ProbeCache {
  [path: string]: { ok: boolean; reason?: string };
}

/**
 * Pick the OCI runtime: an explicit name or path wins; otherwise the first of crun, runc that can really
 * run a container on this host. crun 1.8 refuses hybrid cgroup hosts, which only a real run reveals, so
 * each candidate runs a tiny container once; the verdict is cached in the runroot (cleared at boot).
 */
const selecting = new Map<string, Promise<string>>();

export async function selectRuntime(runroot: string, requested?: string): Promise<string> {
  if (requested) return selectRuntimeUncached(runroot, requested);
  // Concurrent creates in one process (a lab's nodes) share one probe instead of racing their own.
  let p = selecting.get(runroot);
  if (!p) {
    p = selectRuntimeUncached(runroot);
    selecting.set(runroot, p);
    p.catch(() => selecting.delete(runroot));
  }
  return p;
}

async function selectRuntimeUncached(runroot: string, requested?: string): Promise<string> {
  if (requested) {
    const p = findBinary(requested);
    if (!p) throw invalid(`--runtime ${requested}: no such OCI runtime (looked in ${SEARCH.join(", ")})`);
    return p;
  }
  const cacheFile = join(runroot, "runtime-probe.json");
  let cache: ProbeCache = {};
  try {
    cache = JSON.parse(await fsp.readFile(cacheFile, "utf8")) as ProbeCache;
  } catch {
    /* first use */
  }
  const reasons: string[] = [];
  let changed = false;
  let chosen: string | undefined;
  for (const name of KNOWN_RUNTIMES) {
    const p = findBinary(name);
    if (!p) continue;
    if (!cache[p]) {
      cache[p] = await probeRuntime(p, runroot);
      changed = true;
    }
    if (cache[p]!.ok) {
      chosen = p;
      break;
    }
    reasons.push(`${name}: ${cache[p]!.reason}`);
  }
  if (changed) await fsp.writeFile(cacheFile, JSON.stringify(cache)).catch(() => undefined);
  if (!chosen) throw precondition(`no usable OCI runtime (install runc or crun)${reasons.length ? `: ${reasons.join("; ")}` : ""}`);
  return chosen;
}

/** Run the static init binary's --version in a throwaway container. */
async function probeRuntime(path: string, runroot: string): Promise<{ ok: boolean; reason?: string }> {
  const init = ["/usr/bin/catatonit", "/usr/libexec/podman/catatonit"].find((p) => existsSync(p));
  if (!init) return { ok: true };
  const id = `berth-probe-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const dir = join(runroot, id);
  const rootfs = join(dir, "rootfs");
  await fsp.mkdir(rootfs, { recursive: true });
  await fsp.writeFile(join(rootfs, "init"), "");
  await fsp.mkdir(join(rootfs, "proc"));
  const spec = {
    ociVersion: "1.0.2",
    process: { user: { uid: 0, gid: 0 }, args: ["/init", "--version"], cwd: "/", env: ["PATH=/"] },
    root: { path: rootfs, readonly: true },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/init", type: "bind", source: init, options: ["bind", "ro"] },
    ],
    linux: { namespaces: [{ type: "mount" }, { type: "pid" }], cgroupsPath: `berth/${id}` },
  };
  await fsp.writeFile(join(dir, "config.json"), JSON.stringify(spec));
  const state = join(dir, "state");
  try {
    const r = await run(path, ["--root", state, "run", "--bundle", dir, id]);
    return r.code === 0 ? { ok: true } : { ok: false, reason: r.stderr.trim().split("\n").pop() ?? `exit ${r.code}` };
  } finally {
    await run(path, ["--root", state, "delete", "--force", id]);
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
