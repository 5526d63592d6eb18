/**
 * Persistent named network namespaces under berth's runroot: `<runroot>/netns/<name>` is an empty
 * file with the namespace bind-mounted on it (what `unshare --net=FILE` does), so it outlives any
 * process and a runtime can join it by path. Not /run/netns: berth's state stays under its runroot
 * (tests use temporary runroots) and `ip netns` users do not see or delete berth's namespaces.
 *
 * Works whatever the propagation of the runroot's mount: a bind mount of an nsfs file needs no shared
 * parent. (On a shared parent the bind propagates to peer mount namespaces, and so does its umount.)
 */
import { statSync } from "node:fs";
import { mkdir, open, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { BerthError, conflict, invalid } from "../core/errors.js";
import { run } from "../runtime/exec-file.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkNetnsName(name: string): string {
  if (!NAME.test(name)) throw invalid(`invalid netns name "${name}": 1-128 characters of [A-Za-z0-9_.-], not starting with a dot or dash`);
  return name;
}

export function netnsDir(runroot: string): string {
  return join(runroot, "netns");
}

export function netnsPath(runroot: string, name: string): string {
  return join(netnsDir(runroot), checkNetnsName(name));
}

/** Argv that runs `command` inside the netns at `path`: ["nsenter", "--net=PATH", "--", ...command]. */
export function nsenterArgs(path: string, command: readonly string[] = []): string[] {
  return ["nsenter", `--net=${path}`, ...(command.length ? ["--", ...command] : [])];
}

let nsfsDev: number | undefined;

/** True when `path` has a namespace bound on it (its device is nsfs's, like /proc/self/ns/net). */
async function isBound(path: string): Promise<boolean> {
  nsfsDev ??= statSync("/proc/self/ns/net").dev;
  try {
    return (await stat(path)).dev === nsfsDev;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/** A named netns exists when its file exists and a namespace is bound on it. */
export async function netnsExists(runroot: string, name: string): Promise<boolean> {
  return isBound(netnsPath(runroot, name));
}

/**
 * Create `<runroot>/netns/<name>` and bind a new network namespace on it; returns the path.
 * ALREADY_EXISTS when the file is there (bound, or a stale leftover that deleteNetns clears): the
 * exclusive create makes two racing creators of one name fail cleanly instead of stacking mounts.
 */
export async function createNetns(runroot: string, name: string): Promise<string> {
  return (await createNetnsMany(runroot, [name]))[0]!;
}

/**
 * createNetns for many names (a lab's hundreds of nodes) with one helper process: every file is created
 * first, exclusively, then one shell binds a new namespace on each (a fork from a small shell, not from
 * berth, per name). On any failure all of them are removed again, and the error names the first that failed.
 */
export async function createNetnsMany(runroot: string, names: readonly string[]): Promise<string[]> {
  await mkdir(netnsDir(runroot), { recursive: true, mode: 0o755 });
  const made: string[] = [];
  const undo = async () => {
    for (const n of made) await deleteNetns(runroot, n).catch(() => undefined);
  };
  for (const name of names) {
    const path = netnsPath(runroot, name);
    try {
      await (await open(path, "wx", 0o444)).close();
    } catch (e) {
      await undo();
      if ((e as NodeJS.ErrnoException).code === "EEXIST") {
        const stale = !(await isBound(path));
        throw new BerthError("ALREADY_EXISTS", `netns ${name} already exists${stale ? " (stale file without a namespace: delete it first)" : ""}`);
      }
      throw e;
    }
    made.push(name);
  }
  const paths = made.map((n) => netnsPath(runroot, n));
  if (!paths.length) return paths;
  const [cmd, ...args] = paths.length === 1 ? ["unshare", `--net=${paths[0]}`, "true"] : ["sh", "-c", 'for f; do unshare --net="$f" true || exit; done', "sh", ...paths];
  const r = await run(cmd!, args).catch((e: Error) => ({ code: -1, stdout: "", stderr: e.message }));
  for (const [i, path] of paths.entries()) {
    if (await isBound(path)) continue;
    await undo();
    throw new BerthError("INTERNAL", `cannot create netns ${made[i]}: ${r.stderr.trim().split("\n")[0] || `unshare exit status ${r.code}`}`);
  }
  return paths;
}

/**
 * Unmount (lazily when busy) and remove; deleting a missing netns is not an error. The namespace
 * itself lives on while a process is still in it, and dies with the last one.
 */
export async function deleteNetns(runroot: string, name: string): Promise<void> {
  const path = netnsPath(runroot, name);
  // A file can carry stacked binds (e.g. created twice by hand); peel until none is left.
  for (let i = 0; i < 16 && (await isBound(path)); i++) {
    let r = await run("umount", [path]);
    if (r.code !== 0 && /busy/i.test(r.stderr)) r = await run("umount", ["--lazy", path]);
    if (r.code !== 0 && (await isBound(path))) {
      throw new BerthError("INTERNAL", `cannot unmount netns ${name}: ${r.stderr.trim().split("\n")[0]}`);
    }
  }
  if (await isBound(path)) throw conflict(`netns ${name} is still mounted after 16 unmounts`);
  try {
    await rm(path, { force: true });
  } catch (e) {
    throw new BerthError("INTERNAL", `cannot remove ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Names under the netns dir whose file has (bound) or lacks (!bound) a namespace bound on it. */
async function netnsFiles(runroot: string, bound: boolean): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(netnsDir(runroot));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const out: string[] = [];
  for (const n of names.sort()) if (NAME.test(n) && (await isBound(join(netnsDir(runroot), n))) === bound) out.push(n);
  return out;
}

/** Names of the bound namespaces under the runroot (stale unbound files are skipped). */
export function listNetns(runroot: string): Promise<string[]> {
  return netnsFiles(runroot, true);
}

/** Files under the netns dir without a namespace bound (left by a crash between create and bind). */
export function listStaleNetns(runroot: string): Promise<string[]> {
  return netnsFiles(runroot, false);
}
