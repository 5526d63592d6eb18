import type { PoolSpec } from "../core/net/pool.js";
import type { PortMapping } from "../core/spec/types.js";

export interface NetworkCreateRequest {
  name: string;
  driver?: "bridge" | "macvlan";
  subnets?: { subnet: string; gateway?: string; ipRange?: string }[];
  /** Also give it an IPv6 subnet (chosen from the pool when none is given). */
  ipv6?: boolean;
  /** No NAT, no forwarding off the bridge. */
  internal?: boolean;
  /** Driver options: parent=IF and mode=bridge|passthru|private|vepa (macvlan), mtu=N, bridge=NAME, promisc=true|false (every interface on it promiscuous). */
  options?: Record<string, string>;
  labels?: Record<string, string>;
  /** Where unset subnets are chosen from (library only: a lab's management network uses its own pools). */
  pools?: readonly PoolSpec[];
}

/** Docker-shaped `network inspect`. */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: "local";
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: "default"; Config: { Subnet: string; Gateway?: string; IPRange?: string }[] };
  Internal: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  Containers: Record<string, { Name: string; MacAddress: string; IPv4Address: string; IPv6Address: string; Interface: string; Aliases: string[] }>;
}

export interface ConnectRequest {
  ip?: string;
  ip6?: string;
  aliases?: string[];
  mac?: string;
}

/** What the CLI and the HTTP API call. Refs are a full ID, a unique ID prefix, or a name. */
export interface NetworksApi {
  create(req: NetworkCreateRequest): Promise<NetworkInspect>;
  list(): Promise<NetworkInspect[]>;
  inspect(ref: string): Promise<NetworkInspect>;
  /** Refuses while containers are attached, unless forced (they are disconnected first). */
  remove(ref: string, opts?: { force?: boolean }): Promise<string>;
  /** Remove networks no container uses (the default one stays). */
  prune(): Promise<string[]>;
  /** Attach a container; a running one gets its interface at once. */
  connect(network: string, container: string, req?: ConnectRequest): Promise<void>;
  disconnect(network: string, container: string, opts?: { force?: boolean }): Promise<void>;
}

export type { PortMapping };
