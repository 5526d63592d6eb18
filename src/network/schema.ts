/** Schema of networks and address allocations (migration v4). Owned by the network subsystem; append-only once shipped. */
export const NETWORKS_SCHEMA = `
CREATE TABLE networks (
  id TEXT PRIMARY KEY,                   -- 64 hex
  name TEXT NOT NULL UNIQUE,
  driver TEXT NOT NULL CHECK (driver IN ('bridge', 'macvlan')),
  interface TEXT NOT NULL,               -- bridge name, or the macvlan parent
  options TEXT NOT NULL DEFAULT '{}',    -- JSON: mode, internal, mtu, labels...
  created INTEGER NOT NULL
);
CREATE TABLE network_subnets (
  network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  subnet TEXT NOT NULL,                  -- CIDR
  gateway TEXT,
  ip_range TEXT,
  PRIMARY KEY (network_id, subnet)
);
CREATE TABLE network_addresses (
  network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  address TEXT NOT NULL,                 -- one per container and family
  container_id TEXT NOT NULL,
  PRIMARY KEY (network_id, address)
);
CREATE TABLE container_networks (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  network_id TEXT NOT NULL REFERENCES networks(id),
  interface TEXT NOT NULL,               -- eth0, eth1, ... in connect order
  mac TEXT NOT NULL,
  aliases TEXT NOT NULL DEFAULT '[]',    -- JSON
  position INTEGER NOT NULL,
  PRIMARY KEY (container_id, network_id)
);
`;
