import { spawn, spawnSync } from "node:child_process";
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

/**
 * Another "host" for network tests: a network namespace (`ip netns add`, so `ip netns exec` reaches it)
 * joined to the host by a veth pair. The host end keeps `hostIf` (addressed by the test, or used as a
 * macvlan parent); the peer end is `eth0` inside, with `peerAddr` (CIDR) when given. remove() is
 * idempotent and deleting the netns takes the veth pair with it, so after hooks can always call it.
 */
export class PeerNetns {
  private constructor(
    readonly name: string,
    readonly hostIf: string,
  ) {}

  /**
   * `bridge` enslaves the host end to that bridge (the peer then sits on it like a container); `peerRoutes`
   * are `ip route add` arguments inside; `peerSysctls` ("net.ipv4.conf.all.route_localnet=1") are the
   * peer netns's own, never the host's. The peer's lo stays down: it has no 127.0.0.0/8 of its own.
   */
  static create(o: { tag: string; hostAddr?: string; bridge?: string; peerAddr?: string; peerRoutes?: string[]; peerSysctls?: string[] }): PeerNetns {
    const p = new PeerNetns(`bpeer${o.tag}`, `vpeer${o.tag}`);
    const steps: [string, string[]][] = [
      ["ip", ["netns", "add", p.name]],
      ["ip", ["link", "add", p.hostIf, "type", "veth", "peer", "name", "eth0", "netns", p.name]],
      ...(o.hostAddr ? ([["ip", ["addr", "add", o.hostAddr, "dev", p.hostIf]]] as [string, string[]][]) : []),
      ...(o.bridge ? ([["ip", ["link", "set", p.hostIf, "master", o.bridge]]] as [string, string[]][]) : []),
      ["ip", ["link", "set", p.hostIf, "up"]],
      ...(o.peerAddr ? ([["ip", ["-n", p.name, "addr", "add", o.peerAddr, "dev", "eth0"]]] as [string, string[]][]) : []),
      ["ip", ["-n", p.name, "link", "set", "eth0", "up"]],
      ...(o.peerRoutes ?? []).map((r) => ["ip", ["-n", p.name, "route", "add", ...r.split(" ")]] as [string, string[]]),
      ...(o.peerSysctls ?? []).map((kv) => ["ip", ["netns", "exec", p.name, "sysctl", "-q", "-w", kv]] as [string, string[]]),
    ];
    for (const [cmd, args] of steps) {
      const r = sh(cmd, args);
      if (r.status !== 0) {
        p.remove();
        throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
      }
    }
    return p;
  }

  /** Run a command inside the peer netns (bounded: a hang fails the test, not the suite). */
  exec(cmd: string, args: string[], timeoutMs = 15_000): { code: number; stdout: string; stderr: string } {
    const r = spawnSync("ip", ["netns", "exec", this.name, cmd, ...args], { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? `\n[${r.error.message}]` : "") };
  }

  /** exec without blocking this process (a server the command talks to may live in it). */
  execAsync(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((res) => {
      const c = spawn("ip", ["netns", "exec", this.name, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const t = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
      c.stdout.on("data", (d) => (stdout += d));
      c.stderr.on("data", (d) => (stderr += d));
      c.on("close", (code) => {
        clearTimeout(t);
        res({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  remove(): void {
    sh("ip", ["netns", "del", this.name]);
    sh("ip", ["link", "del", this.hostIf]);
  }

  /** Anything of this peer still on the host (one line each). */
  leftovers(): string[] {
    const out: string[] = [];
    if (sh("ip", ["netns", "list"]).stdout.split("\n").some((l) => l.split(" ")[0] === this.name)) out.push(`netns ${this.name}`);
    if (hostLinkNames().includes(this.hostIf)) out.push(`link ${this.hostIf}`);
    return out;
  }
}
