/** Schema of networks and address allocations (migration v4). Owned by the network subsystem; append-only once shipped. */
export const NETWORKS_SCHEMA = `
CREATE TABLE networks (
  id TEXT PRIMARY KEY,                   -- 64 hex
  name TEXT NOT NULL UNIQUE,
  driver TEXT NOT NULL CHECK (driver IN ('bridge', 'macvlan')),
  interface TEXT NOT NULL,               -- bridge name, or the macvlan parent
  options TEXT NOT NULL DEFAULT '{}',    -- JSON: mode, internal, mtu, labels...
  created INTEGER NOT NULL               -- ms
);
CREATE TABLE network_subnets (
  network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  subnet TEXT NOT NULL,                  -- canonical CIDR, host bits zero
  family INTEGER NOT NULL CHECK (family IN (4, 6)),
  gateway TEXT,                          -- canonical address
  ip_range TEXT,                         -- canonical CIDR inside subnet: dynamic allocations only
  last_address TEXT,                     -- cursor: the last address handed out dynamically (allocation wraps)
  PRIMARY KEY (network_id, subnet)
);
CREATE TABLE network_addresses (
  network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  address TEXT NOT NULL,                 -- canonical text; one per container and family
  family INTEGER NOT NULL CHECK (family IN (4, 6)),
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  PRIMARY KEY (network_id, address),
  UNIQUE (network_id, container_id, family)
);
CREATE INDEX network_addresses_container ON network_addresses(container_id);
CREATE TABLE container_networks (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  network_id TEXT NOT NULL REFERENCES networks(id),
  interface TEXT NOT NULL,               -- eth0, eth1, ... in connect order
  mac TEXT NOT NULL,
  aliases TEXT NOT NULL DEFAULT '[]',    -- JSON
  position INTEGER NOT NULL,
  PRIMARY KEY (container_id, network_id),
  UNIQUE (container_id, interface)
);
CREATE INDEX container_networks_network ON container_networks(network_id);
CREATE TABLE container_ports (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  host_ip TEXT NOT NULL DEFAULT '',      -- '' = every address
  host_port INTEGER NOT NULL,
  container_port INTEGER NOT NULL,
  protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
  PRIMARY KEY (host_port, protocol, host_ip)
);
CREATE INDEX container_ports_container ON container_ports(container_id);
`;
