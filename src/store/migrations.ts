import { NETWORKS_SCHEMA } from "../network/schema.js";
import { LABS_SCHEMA } from "../lab/schema.js";
import { VOLUMES_SCHEMA } from "../volume/schema.js";

/** Schema migrations; index i migrates v(i) -> v(i+1). Never edit a shipped entry: append a new one. */
export const MIGRATIONS: readonly string[] = [
  /* v1: images, tags, layers, snapshots, leases */ `
CREATE TABLE images (
  id TEXT PRIMARY KEY,                 -- config digest (Docker's image ID)
  manifest_digest TEXT NOT NULL,
  manifest_media_type TEXT NOT NULL,
  os TEXT NOT NULL,
  architecture TEXT NOT NULL,
  variant TEXT,
  size INTEGER NOT NULL,               -- unpacked bytes
  created TEXT,                        -- from the image config
  added_at INTEGER NOT NULL
);
CREATE TABLE image_tags (
  name TEXT PRIMARY KEY,               -- domain/path:tag
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX image_tags_image ON image_tags(image_id);
CREATE TABLE image_digests (
  repository TEXT NOT NULL,            -- domain/path
  digest TEXT NOT NULL,                -- manifest or index digest as pulled
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  PRIMARY KEY (repository, digest)
);
CREATE INDEX image_digests_image ON image_digests(image_id);
CREATE TABLE image_layers (
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  blob_digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  blob_size INTEGER NOT NULL,
  diff_id TEXT NOT NULL,
  chain_id TEXT NOT NULL,
  PRIMARY KEY (image_id, idx)
);
CREATE INDEX image_layers_chain ON image_layers(chain_id);
CREATE TABLE snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  chain_id TEXT NOT NULL UNIQUE,
  parent TEXT,
  diff_id TEXT NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('extracting', 'ready')),
  lease_id TEXT,
  created INTEGER NOT NULL
);
CREATE TABLE leases (
  id TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  created INTEGER NOT NULL
);
CREATE TABLE lease_resources (
  lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,                  -- 'blob' | 'snapshot'
  key TEXT NOT NULL,
  PRIMARY KEY (lease_id, kind, key)
);
`,
  /* v2: containers */ `
CREATE TABLE containers (
  id TEXT PRIMARY KEY,                 -- 64 hex
  name TEXT NOT NULL UNIQUE,
  image_id TEXT NOT NULL,              -- held through ImageStore.inUse, not a foreign key: rmi -f may untag
  image_name TEXT NOT NULL,            -- as the user named it
  options TEXT NOT NULL,               -- ContainerOptions JSON: what was asked
  runtime TEXT NOT NULL,               -- runtime binary path, chosen at create
  created INTEGER NOT NULL,            -- ms
  state TEXT NOT NULL CHECK (state IN ('created', 'running', 'paused', 'restarting', 'exited')),
  pid INTEGER NOT NULL DEFAULT 0,
  conmon_pid INTEGER NOT NULL DEFAULT 0,
  boot_id TEXT,
  exit_code INTEGER NOT NULL DEFAULT 0,
  oom_killed INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  restart_count INTEGER NOT NULL DEFAULT 0,
  stopped_by_user INTEGER NOT NULL DEFAULT 0,
  monitor_pid INTEGER NOT NULL DEFAULT 0 -- the process starting it, or a cleanup process sleeping out a restart back-off
);
CREATE INDEX containers_image ON containers(image_id);
`,
  /* v3: named volumes */ VOLUMES_SCHEMA,
  /* v4: networks and addresses */ NETWORKS_SCHEMA,
  /* v5: labs */ LABS_SCHEMA,
];
