/**
 * Names a lab leaves on the host. Container and network names are readable; host devices are limited to
 * 15 characters (IFNAMSIZ - 1), so they are a short kind prefix plus a hash of the lab and segment names:
 * deterministic (a redeployed lab finds its own bridges again) and collision-resistant across labs, which
 * a truncated readable name ("tri-lan" vs "tri-lan2" vs a long lab name) would not be.
 */
import { createHash } from "node:crypto";

/** A container name is also the node's hostname and DNS label in /etc/hosts and the ssh config. */
export const MAX_CONTAINER_NAME = 63;

export const containerName = (lab: string, node: string): string => `${lab}-${node}`;

export const mgmtNetworkName = (lab: string): string => `lab-${lab}`;

/** 13 hex characters: 52 bits, so two labs' devices collide with odds of about 1 in 4.5e15. */
function hash13(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 13);
}

/** The lab's management bridge: "bm" + 13 hex. */
export const mgmtBridgeName = (lab: string): string => `bm${hash13("mgmt", lab)}`;

/** A shared segment's bridge: "bl" + 13 hex of (lab, bridge name). */
export const segmentBridgeName = (lab: string, bridge: string): string => `bl${hash13("segment", lab, bridge)}`;
