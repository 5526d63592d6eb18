/**
 * The volume subsystem: named and anonymous volumes, bind/tmpfs/volume mount planning, file injection and
 * the safe tree walking behind `berth cp`.
 *
 * Choices (see also each file):
 * - Volumes are directories <root>/volumes/<name>/_data (Docker's layout), rows in SQLite (migration v3),
 *   and which containers use them in volume_users (cascading with the container row). Only the "local"
 *   driver, without device mounts (--opt type/device/o are refused in one line).
 * - A container's mounts are resolved once, at create: anonymous volumes are named, --volumes-from is
 *   expanded into copies of the other container's volume and bind mounts, image VOLUMEs nothing else covers
 *   get anonymous volumes. The stored options are concrete, so a later start does not depend on the other
 *   container.
 * - A new, empty volume (unless volume-nocopy) is seeded at create with the image's content at its path,
 *   read through a private overlay view (a helper in its own mount namespace: whiteouts and opaque dirs are
 *   the kernel's business, and no crash can leave a mount on the host).
 * - Bind sources must exist (for -v too, as Podman; Docker would create a missing -v source as root).
 * - `cp` and file injection walk container paths from directory fds (ScopedRoot), so a symlink in the
 *   container, even one swapped in while cp runs, can never lead a read or write outside the container.
 *   Running containers are reached through /proc/<pid>/root (volumes included); stopped ones through the
 *   private overlay view (their volumes are not part of that view).
 */
export { VolumeStore, type VolumeRecord, type VolumeUse, type VolumeUser, type CreateVolumeRequest } from "./store.js";
export { checkVolumeName, randomVolumeName, VOLUME_NAME_RE } from "./names.js";
export { planMounts, parseVolumesFrom, withVolumeBinds, type MountPlan, type VolumesFromSource } from "./plan.js";
export { planContainerVolumes, type ContainerVolumePlan, type PlanContext } from "./container.js";
export { ScopedRoot, type Entry } from "./scoped-root.js";
export { copyPath, copyEntry, copyContents, type CopyEnd, type CopyTreeOptions } from "./copy-tree.js";
export { withPrivateOverlay, type OverlayLayers } from "./private-view.js";
