/** Archives: docker-archive and OCI layout archives in (load) and out (save), and rootfs import. */
export { loadArchive, type LoadOptions } from "./load.js";
export { saveArchive, type SaveOptions } from "./save.js";
export { importRootfs, type ImportOptions } from "./import.js";
export { applyChanges, parseChange, splitWords, type ContainerConfig } from "./changes.js";
export { parseDockerManifest, parseRepositories, archivePath, type DockerManifestEntry } from "./docker-manifest.js";
export { detectCompression, looksLikeTar, type StreamCompression } from "./sniff.js";
export { CONTAINERD_NAME, REF_NAME, namesFromAnnotations } from "./names.js";
