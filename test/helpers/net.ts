import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";

/** Host-side helpers shared by the network tests. */

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });

export const hostLinks = (): { ifname: string; ifindex: number; address?: string }[] => JSON.parse(sh("ip", ["-j", "link", "show"]).stdout || "[]");

export const hostLinkNames = (): string[] => hostLinks().map((l) => l.ifname);

/** A /24 prefix ("10.x.y") that no route or address on the host mentions (nor any of `avoid`). */
export function freeV4(avoid: string[] = []): string {
  const routes = sh("ip", ["-j", "route", "show"]).stdout + sh("ip", ["-j", "addr", "show"]).stdout;
  for (;;) {
    const p = `10.${randomInt(100, 200)}.${randomInt(0, 256)}`;
    if (!routes.includes(`"${p}.`) && !avoid.includes(p)) return p;
  }
}
