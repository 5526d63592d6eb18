/**
 * Lab types shared by the planner (pure: manifest -> plan) and the executor (plan -> host).
 * A manifest is what the user wrote; a LabPlan is everything the executor needs, with models applied,
 * interface aliases resolved to the names the node's OS uses, paths made absolute and names derived.
 */

/** How a model names its data interfaces inside the node, and which spellings the manifest may use. */
export interface InterfaceNaming {
  /** Printf-like template of the in-node name of data interface N (1-based): "eth{n}", "e1-{n}". */
  template: string;
  /** Other accepted manifest spellings of interface N: "ethernet-1/{n}", "Ethernet{n}". */
  aliases: string[];
}

/** A built-in model: defaults for nodes of that kind. Kept as data in models.ts. */
export interface LabModel {
  name: string;
  image: string;
  cpus?: number;
  /** Bytes. */
  memory?: number;
  /** How many data interfaces a node has when the manifest does not say (unconnected ones are admin-down). */
  dataInterfaces: number;
  /** Most data interfaces the naming rule allows (a manifest asking for more is refused). */
  maxDataInterfaces: number;
  privileged: boolean;
  env: Record<string, string>;
  cmd?: string[];
  entrypoint?: string[];
  capAdd: string[];
  sysctls: Record<string, string>;
  /** Name of the management interface inside the node ("eth0"; srlinux "mgmt0" is still eth0 in Linux terms). */
  mgmtInterface: string;
  interfaces: InterfaceNaming;
  /** Where `startup-config` is copied inside the node, with owner/group/mode. */
  startupConfig?: { destination: string; owner?: string; group?: string; mode?: number };
  /** Files every node of the model gets (content inline), injected before any manifest file. */
  files: { destination: string; content: string; owner?: string; group?: string; mode?: number }[];
}

/** One file to inject into a node before start: from the manifest (source) or from the model (content). */
export interface PlannedFile {
  /** Absolute host path (manifest files, resolved against the manifest's folder). */
  source?: string;
  /** Inline content (model files); the executor writes it under the lab's state dir first. */
  content?: string;
  destination: string;
  owner?: string;
  group?: string;
  /** Octal mode as a number (0o640). */
  mode?: number;
}

/** The far end of a node's data interface. */
export type InterfacePeer =
  | { kind: "link"; link: number; node: string; interface: string }
  | { kind: "bridge"; bridge: string }
  | { kind: "none" };

export interface PlannedInterface {
  /** Name inside the node ("eth1", "e1-1"). */
  name: string;
  /** 1-based data interface index. */
  index: number;
  peer: InterfacePeer;
}

export interface NodePlan {
  /** Manifest key: [a-z0-9][a-z0-9-]*. */
  name: string;
  /** Container name: `${lab}-${node}` (clab-style prefix omitted: lab names are unique on the host). */
  container: string;
  model: string;
  image: string;
  mgmtInterface: string;
  mgmtIpv4?: string;
  mgmtIpv6?: string;
  cpus?: number;
  memory?: number;
  privileged: boolean;
  /** KEY=VALUE, model's first then the manifest's (manifest wins on the same key). */
  env: string[];
  cmd?: string[];
  entrypoint?: string[];
  user?: string;
  shmSize?: number;
  sysctls: Record<string, string>;
  capAdd: string[];
  files: PlannedFile[];
  /** "/abs/host:/ctr[:ro]" with relative host paths resolved against the manifest's folder. */
  binds: string[];
  /** Shell command lines run in the node (sh -c) after its links are up, on every start. */
  exec: string[];
  /** Every data interface 1..N (N = data-interfaces, or the highest index a link uses if more). */
  interfaces: PlannedInterface[];
}

export interface LinkEndpoint {
  node: string;
  /** In-node name. */
  interface: string;
}

export interface PlannedLink {
  endpoints: [LinkEndpoint, LinkEndpoint];
  mtu: number;
}

export interface PlannedBridge {
  /** Manifest name ("lan"). */
  name: string;
  /** Host bridge name (<= 15 characters, derived from lab + name). */
  device: string;
  mtu: number;
  endpoints: LinkEndpoint[];
}

export interface LabPlan {
  name: string;
  /** Absolute folder of the manifest (relative paths were resolved against it). */
  baseDir: string;
  mgmt: {
    /** berth network name for the lab's management network: `lab-${name}`. */
    network: string;
    /** Host bridge name (<= 15 characters). */
    bridge: string;
    /** From the manifest; undefined = choose from 172.31.0.0/16 (/24) and fd00:b00b::/48 (/64). */
    ipv4Subnet?: string;
    ipv6Subnet?: string;
  };
  nodes: NodePlan[];
  links: PlannedLink[];
  bridges: PlannedBridge[];
}
