/** OCI runtime spec generation: pure functions of image config, user options and host facts. */
export type * from "./types.js";
export { generateSpec, validateOptions, mergeProcessArgs, convertSeccompProfile, keepIdMaps, mergeTmpfsOptions, OCI_VERSION } from "./generate.js";
export { resolveUser, parsePasswd, parseGroup } from "./user.js";
export { parseSignal, signalName, SIGRTMIN, SIGRTMAX } from "./signals.js";
export {
  ALL_CAPABILITIES,
  DEFAULT_CAPABILITIES,
  normalizeCapability,
  capabilitySet,
  capMask,
  type CapabilityOptions,
} from "./capabilities.js";
export {
  DEFAULT_PATH_ENV,
  DEFAULT_SHM_SIZE,
  DEFAULT_INIT_MOUNT_PATH,
  DEFAULT_READONLY_PATHS,
  defaultMounts,
  defaultMaskedPaths,
  defaultDeviceRules,
  privilegedDeviceRules,
  tmpfsSize,
} from "./defaults.js";
export { buildResources, buildRlimits, validateSysctls, validateCpuList, validateOomScoreAdj, ULIMIT_NAMES } from "./resources.js";
export { defaultSeccomp } from "./seccomp.js";
