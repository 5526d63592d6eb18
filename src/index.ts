/** berth's library surface: `import { Engine } from "berth"`. */
export { Engine, type EngineOptions } from "./engine/engine.js";
export type { Images, PullRequest, RegistryAccess, SaveOptions, ImportOptions, ImageInspect } from "./engine/images.js";
export type { BerthConfig } from "./engine/config.js";
export { BerthError, type ErrorCode } from "./core/errors.js";
export type { Volumes, ContainerFiles, VolumesApi, FilesApi, VolumeInspect, CreateVolumeOptions, CopyLocation } from "./engine/volumes.js";
export type { FileInjection, MountOption } from "./core/spec/types.js";
export type { ImageRecord, LayerRecord } from "./image/types.js";
export type { PullEvent, LayerStatus } from "./image/pull.js";
export { parseReference, formatReference, familiarName, type Reference } from "./core/reference.js";
export { parsePlatform, formatPlatform, hostPlatform, type Platform } from "./core/platform.js";
