/**
 * Host side of container networking: named netns under the runroot, link plans for `ip -batch`,
 * their executors, and berth's nftables table. Planners are pure; executors need root.
 */
import { attach, detach, ensureBridge, removeBridge } from "./apply.js";
import type { AttachSpec, BridgeSpec } from "./link-plan.js";
import { createNetns, deleteNetns, listNetns, netnsExists, netnsPath } from "./netns.js";
import { applyNft, deleteNftTable, renderNftScript, type NftConfig } from "./nft.js";

/** Role: named network namespaces of one runroot. */
export interface NetnsOps {
  path(name: string): string;
  create(name: string): Promise<string>;
  delete(name: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  list(): Promise<string[]>;
}

/** Role: bridges and container interfaces (each attach/detach is at most two `ip -batch` processes). */
export interface LinkOps {
  ensureBridge(spec: BridgeSpec): Promise<void>;
  removeBridge(name: string): Promise<void>;
  attach(spec: AttachSpec): Promise<void>;
  detach(spec: AttachSpec): Promise<void>;
}

/** Role: berth's nftables table, replaced as a whole. */
export interface FirewallOps {
  sync(cfg: NftConfig): Promise<void>;
  remove(table?: string): Promise<void>;
}

export function netnsOps(runroot: string): NetnsOps {
  return {
    path: (name) => netnsPath(runroot, name),
    create: (name) => createNetns(runroot, name),
    delete: (name) => deleteNetns(runroot, name),
    exists: (name) => netnsExists(runroot, name),
    list: () => listNetns(runroot),
  };
}

export const linkOps: LinkOps = { ensureBridge, removeBridge, attach, detach };

export const firewallOps: FirewallOps = {
  sync: (cfg) => applyNft(renderNftScript(cfg)),
  remove: (table) => deleteNftTable(table),
};

export {
  checkNetnsName,
  createNetns,
  deleteNetns,
  listNetns,
  listStaleNetns,
  netnsDir,
  netnsExists,
  netnsPath,
  nsenterArgs,
} from "./netns.js";
export {
  type AttachSpec,
  type BridgeObserved,
  type BridgeSpec,
  type InterfaceSpec,
  type LinkPlan,
  type MacvlanInterface,
  type MacvlanMode,
  type VethInterface,
  checkIfname,
  cidrFamily,
  hostVethName,
  planAttach,
  planBridge,
  planBridgeRemoval,
  planDetach,
  planRollback,
} from "./link-plan.js";
export {
  type BatchOptions,
  type ProbeKind,
  type Support,
  type SysctlSetting,
  BatchError,
  applyBatch,
  applyLinkPlan,
  applySysctls,
  attach,
  detach,
  ensureBridge,
  kernelSupports,
  linkKind,
  parseBatchErrors,
  removeBridge,
  requireKernel,
  restoreSysctls,
} from "./apply.js";
export {
  DEFAULT_TABLE,
  type NftConfig,
  type NftNetwork,
  type PortMapping,
  type Proto,
  applyNft,
  checkTableName,
  deleteNftTable,
  listNftTables,
  localnetSysctls,
  renderNftDelete,
  renderNftScript,
} from "./nft.js";
