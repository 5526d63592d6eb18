/**
 * The mounts of a new container, as data (no I/O): the user's -v/--mount entries with anonymous volumes
 * named, other containers' mounts for --volumes-from, and anonymous volumes for the image's VOLUMEs that
 * nothing else covers. What the engine stores in the container's options and records as volume users.
 */
import { posix } from "node:path";
import { invalid } from "../core/errors.js";
import type { ContainerOptions, MountOption } from "../core/spec/types.js";
import type { VolumeUse } from "./store.js";

export interface VolumesFromSource {
  /** The other container's name. */
  name: string;
  /** Its mounts as stored (concrete: volumes named). */
  mounts: MountOption[];
  /** ro / rw forces the mode; undefined keeps each mount's. */
  mode?: "ro" | "rw";
}

export interface MountPlan {
  mounts: MountOption[];
  uses: VolumeUse[];
}

const norm = (p: string) => {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
};

/** `--volumes-from CTR[:ro|rw]`. */
export function parseVolumesFrom(value: string): { container: string; mode?: "ro" | "rw" } {
  const [container, mode, ...rest] = value.split(":");
  if (!container || rest.length || (mode !== undefined && mode !== "ro" && mode !== "rw")) throw invalid(`invalid --volumes-from "${value}": expected CONTAINER[:ro|rw]`);
  return mode ? { container, mode } : { container };
}

export function planMounts(input: {
  mounts: MountOption[];
  tmpfs: string[];
  volumesFrom: VolumesFromSource[];
  imageVolumes: string[];
  newName: () => string;
}): MountPlan {
  const mounts: MountOption[] = [];
  const taken = new Set(input.tmpfs.map(norm));
  for (const m of input.mounts) {
    if (m.type === "volume" && !m.source) mounts.push({ ...m, source: input.newName(), anonymous: true });
    else mounts.push({ ...m });
    taken.add(norm(m.destination));
  }
  // Docker: the user's own mounts win over --volumes-from ones at the same place; the first source wins among those.
  for (const f of input.volumesFrom) {
    for (const m of f.mounts) {
      if (m.type === "tmpfs" || taken.has(norm(m.destination))) continue;
      const copy: MountOption = { ...m, from: f.name };
      delete copy.noCopy;
      if (f.mode === "ro") copy.readOnly = true;
      else if (f.mode === "rw") delete copy.readOnly;
      mounts.push(copy);
      taken.add(norm(m.destination));
    }
  }
  for (const v of input.imageVolumes) {
    if (!v.startsWith("/")) continue; // Docker ignores relative VOLUME paths in configs it did not write
    const dest = norm(v);
    if (dest === "/" || taken.has(dest)) continue;
    mounts.push({ type: "volume", source: input.newName(), destination: dest, anonymous: true });
    taken.add(dest);
  }
  const uses: VolumeUse[] = mounts.filter((m) => m.type === "volume").map((m) => ({ name: m.source!, destination: norm(m.destination), anonymous: !!m.anonymous }));
  return { mounts, uses };
}

/**
 * The options spec generation sees: volume mounts become bind mounts of their directories. Anonymous ones
 * not named yet (a dry run before create) get a placeholder.
 */
export function withVolumeBinds(o: ContainerOptions, mountpoint: (name: string) => string): ContainerOptions {
  if (!o.mounts?.some((m) => m.type === "volume")) return o;
  return {
    ...o,
    mounts: o.mounts.map((m) => {
      if (m.type !== "volume") return m;
      const b: MountOption = { type: "bind", source: mountpoint(m.source ?? "anonymous"), destination: m.destination };
      if (m.readOnly) b.readOnly = true;
      if (m.options?.length) b.options = m.options;
      return b;
    }),
  };
}
