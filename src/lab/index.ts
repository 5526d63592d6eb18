/** Labs: manifest text -> validated manifest -> plan (pure), and the plan's picture. */
export type * from "./types.js";
export { parseManifest, type BridgeSpec, type EndpointSpec, type FileSpec, type LabManifest, type LinkSpec, type NodeSpec } from "./manifest.js";
export { planLab, type PlanOptions } from "./plan.js";
export { DEFAULT_MTU } from "./plan-links.js";
export { DEFAULT_MODEL, getModel, MODELS } from "./models.js";
export { interfaceName, resolveInterface, type ResolvedInterface } from "./interfaces.js";
export { containerName, MAX_CONTAINER_NAME, mgmtBridgeName, mgmtNetworkName, segmentBridgeName } from "./names.js";
export { MAX_LAB_NAME } from "./manifest-values.js";
export { graph, type GraphFormat } from "./graph.js";
