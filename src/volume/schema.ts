/** Schema of named volumes (migration v3). Owned by the volume subsystem; append-only once shipped. */
export const VOLUMES_SCHEMA = `
CREATE TABLE volumes (
  name TEXT PRIMARY KEY,
  driver TEXT NOT NULL DEFAULT 'local',
  created INTEGER NOT NULL,             -- ms
  labels TEXT NOT NULL DEFAULT '{}',    -- JSON
  options TEXT NOT NULL DEFAULT '{}',   -- JSON
  anonymous INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE volume_users (
  volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  PRIMARY KEY (volume, container_id, destination)
);
CREATE INDEX volume_users_container ON volume_users(container_id);
`;
