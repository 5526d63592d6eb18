/**
 * Built-in lab models as data. A model is only defaults: every field can be overridden per node or in the
 * manifest's `defaults`. Adding a model is adding an entry here; nothing else in the planner names a model.
 */
import { invalid } from "../core/errors.js";
import type { LabModel } from "./types.js";

/**
 * FRR starts the daemons this file switches on (frrinit.sh reads it); the package's default has every
 * routing daemon off, so a lab router would come up with only zebra and staticd. OSPFv2/v3 and BGP on
 * make the node route like a router out of the box; the *_options lines are the package's own, so the
 * daemons listen for vty only on loopback.
 */
const FRR_DAEMONS = `# Written by berth (model frr). See /usr/share/doc/frr for every option.
zebra=yes
bgpd=yes
ospfd=yes
ospf6d=yes
ripd=no
ripngd=no
isisd=no
pimd=no
pim6d=no
ldpd=no
nhrpd=no
eigrpd=no
babeld=no
sharpd=no
pbrd=no
bfdd=no
fabricd=no
vrrpd=no
pathd=no

vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
mgmtd_options="  -A 127.0.0.1"
bgpd_options="   -A 127.0.0.1"
ospfd_options="  -A 127.0.0.1"
ospf6d_options=" -A ::1"
ripd_options="   -A 127.0.0.1"
ripngd_options=" -A ::1"
isisd_options="  -A 127.0.0.1"
pimd_options="   -A 127.0.0.1"
pim6d_options="  -A ::1"
ldpd_options="   -A 127.0.0.1"
nhrpd_options="  -A 127.0.0.1"
eigrpd_options=" -A 127.0.0.1"
babeld_options=" -A 127.0.0.1"
sharpd_options=" -A 127.0.0.1"
pbrd_options="   -A 127.0.0.1"
staticd_options="-A 127.0.0.1"
bfdd_options="   -A 127.0.0.1"
fabricd_options="-A 127.0.0.1"
vrrpd_options="  -A 127.0.0.1"
pathd_options="  -A 127.0.0.1"
`;

/**
 * cEOS-lab reads its platform settings both from the environment and, because /sbin/init is PID 1 and
 * systemd does not pass the container's environment on, from systemd.setenv= arguments (Arista's
 * documented `docker create` line). MAPETH0/MGMT_INTF make eth0 Management0, where berth puts the
 * management address.
 */
const CEOS_ENV: Record<string, string> = {
  CEOS: "1",
  EOS_PLATFORM: "ceoslab",
  container: "docker",
  ETBA: "1",
  SKIP_ZEROTOUCH_BARRIER_IN_SYSDBINIT: "1",
  INTFTYPE: "eth",
  MAPETH0: "1",
  MGMT_INTF: "eth0",
};

/**
 * busybox and most distribution images default to an interactive shell, which exits at once without a
 * terminal. A lab host must stay up until stopped: sleep in the background and wait, so the TERM trap
 * runs at once (PID 1 ignores signals it has no handler for).
 */
const KEEP_ALIVE = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"];

const linux: LabModel = {
  name: "linux",
  image: "busybox:latest",
  // Only the interfaces links use: a plain host has no fixed port count.
  dataInterfaces: 0,
  // eth{n} stays far below the 15-character limit; the cap keeps a typo ("eth10000") from planning
  // thousands of veths.
  maxDataInterfaces: 255,
  privileged: false,
  env: {},
  cmd: KEEP_ALIVE,
  // NET_ADMIN so `exec: ip addr add ...` works; NET_RAW for ping in images without ping_group_range.
  capAdd: ["NET_ADMIN", "NET_RAW"],
  sysctls: {},
  mgmtInterface: "eth0",
  interfaces: { template: "eth{n}", aliases: [] },
  files: [],
};

const frr: LabModel = {
  name: "frr",
  image: "berth-frr:latest",
  dataInterfaces: 0,
  maxDataInterfaces: 255,
  privileged: false,
  env: {},
  // NET_ADMIN: zebra programs routes and links; NET_RAW: OSPF speaks raw IP; SYS_ADMIN: VRFs and netns.
  capAdd: ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"],
  sysctls: { "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1" },
  mgmtInterface: "eth0",
  interfaces: { template: "eth{n}", aliases: [] },
  startupConfig: { destination: "/etc/frr/frr.conf", owner: "frr", group: "frr", mode: 0o640 },
  files: [{ destination: "/etc/frr/daemons", content: FRR_DAEMONS, owner: "frr", group: "frr", mode: 0o640 }],
};

const srlinux: LabModel = {
  name: "srlinux",
  image: "ghcr.io/nokia/srlinux:latest",
  dataInterfaces: 0,
  // ethernet-1/1 .. ethernet-1/128: the largest single-slot port count SR Linux names.
  maxDataInterfaces: 128,
  privileged: true,
  env: { SRLINUX: "1" },
  // The image's default command is a shell; sr_linux is the NOS launcher, and it expects the /.dockerenv
  // marker that Docker creates and berth does not.
  cmd: ["sudo", "bash", "-c", "touch /.dockerenv && /opt/srlinux/bin/sr_linux"],
  capAdd: [],
  // SR Linux owns IPv6 addressing and forwarding of its interfaces; the kernel must not autoconfigure
  // them or hold them in DAD.
  sysctls: {
    "net.ipv4.ip_forward": "0",
    "net.ipv6.conf.all.disable_ipv6": "0",
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.all.autoconf": "0",
    "net.ipv6.conf.default.autoconf": "0",
  },
  // SR Linux calls it mgmt0; in Linux terms it is the container's eth0.
  mgmtInterface: "eth0",
  interfaces: { template: "e1-{n}", aliases: ["ethernet-1/{n}"] },
  startupConfig: { destination: "/etc/opt/srlinux/config.json" },
  files: [],
};

const ceos: LabModel = {
  name: "ceos",
  image: "ceos:latest",
  dataInterfaces: 0,
  maxDataInterfaces: 128,
  privileged: true,
  env: CEOS_ENV,
  cmd: ["/sbin/init", ...Object.entries(CEOS_ENV).map(([k, v]) => `systemd.setenv=${k}=${v}`)],
  capAdd: [],
  sysctls: {},
  mgmtInterface: "eth0",
  interfaces: { template: "eth{n}", aliases: ["Ethernet{n}"] },
  startupConfig: { destination: "/mnt/flash/startup-config" },
  files: [],
};

export const MODELS: Readonly<Record<string, LabModel>> = Object.freeze({ linux, frr, srlinux, ceos });

export const DEFAULT_MODEL = "linux";

/** The model of that name, from `models` (the built-ins unless a caller adds its own). */
export function getModel(name: string, models: Readonly<Record<string, LabModel>> = MODELS): LabModel {
  const m = Object.hasOwn(models, name) ? models[name] : undefined;
  if (!m) throw invalid(`unknown lab model "${name}" (known models: ${Object.keys(models).sort().join(", ")})`);
  return m;
}
