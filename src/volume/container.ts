/** The volume subsystem's part of a container's create: resolve, check, then (after the row exists) provision. */
import type { ContainerOptions } from "../core/spec/types.js";
import { checkVolumeName, randomVolumeName } from "./names.js";
import { parseVolumesFrom, planMounts, type VolumesFromSource } from "./plan.js";
import { checkHostPaths, provision } from "./provision.js";
import type { VolumeUse } from "./store.js";

/** What planning needs: other containers' stored mounts (--volumes-from) and volume directories. */
export interface PlanContext {
  containers: { resolve(ref: string): { name: string; options: ContainerOptions } };
  volumes: { mountpoint(name: string): string };
}

export interface ContainerVolumePlan {
  /** The options to store: `mounts` concrete (anonymous volumes named, --volumes-from expanded). */
  options: ContainerOptions;
  uses: VolumeUse[];
  /** After the row and the container's dirs exist and the volumes are attached: seed volumes, inject files. */
  provision(lowerDirs: string[], p: { upper: string; work: string; merged: string }): Promise<void>;
}

export function planContainerVolumes(opts: ContainerOptions, imageVolumes: string[], ctx: PlanContext): ContainerVolumePlan {
  for (const m of opts.mounts ?? []) if (m.type === "volume" && m.source) checkVolumeName(m.source);
  const from: VolumesFromSource[] = (opts.volumesFrom ?? []).map((v) => {
    const { container, mode } = parseVolumesFrom(v);
    const other = ctx.containers.resolve(container);
    return { name: other.name, mounts: other.options.mounts ?? [], ...(mode ? { mode } : {}) };
  });
  const plan = planMounts({ mounts: opts.mounts ?? [], tmpfs: Object.keys(opts.tmpfs ?? {}), volumesFrom: from, imageVolumes, newName: randomVolumeName });
  const options: ContainerOptions = { ...opts };
  if (plan.mounts.length) options.mounts = plan.mounts;
  else delete options.mounts;
  checkHostPaths(options);
  return {
    options,
    uses: plan.uses,
    provision: (lowerDirs, p) => provision({ lowerDirs, upper: p.upper, work: p.work, mountpoint: p.merged }, options, (n) => ctx.volumes.mountpoint(n)),
  };
}
