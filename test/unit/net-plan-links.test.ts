/** The link planner's exact `ip -batch` lines for several shapes, and its refusals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseBatchErrors } from "../../src/network/apply.js";
import { hostVethName, planAttach, planBridge, planBridgeRemoval, planDetach, planRollback, type AttachSpec } from "../../src/network/link-plan.js";
import { nsenterArgs } from "../../src/network/netns.js";
import { berthError } from "../helpers/errors.js";

const NS = "/run/berth/netns/c1";

describe("net plan: bridge", () => {
  it("creates, sets MTU and addrgenmode none, adds gateways (v6 nodad), brings up", () => {
    assert.deepEqual(planBridge({ name: "berth0", mtu: 1500, addresses: ["10.88.0.1/16", "fd00::1/64"] }, { exists: false }), [
      "link add name berth0 type bridge",
      "link set dev berth0 mtu 1500 addrgenmode none",
      "address replace 10.88.0.1/16 dev berth0",
      "address replace fd00::1/64 dev berth0 nodad",
      "link set dev berth0 up",
    ]);
  });

  it("skips the create when the bridge exists and emits vlan_filtering only when asked", () => {
    assert.deepEqual(planBridge({ name: "br1" }, { exists: true }), ["link set dev br1 addrgenmode none", "link set dev br1 up"]);
    assert.equal(planBridge({ name: "br1", vlanFiltering: false }, { exists: false })[0], "link add name br1 type bridge vlan_filtering 0");
    assert.deepEqual(planBridgeRemoval("br1"), ["link delete dev br1"]);
  });

  it("refuses bad names, MTUs and addresses", () => {
    assert.throws(() => planBridge({ name: "a-very-long-bridge-name" }, { exists: false }), berthError("INVALID_ARGUMENT", /bridge name/));
    assert.throws(() => planBridge({ name: "br 1" }, { exists: false }), berthError("INVALID_ARGUMENT"));
    assert.throws(() => planBridge({ name: "br1", mtu: 10 }, { exists: false }), berthError("INVALID_ARGUMENT", /MTU/));
    assert.throws(() => planBridge({ name: "br1", addresses: ["10.88.0.1"] }, { exists: false }), berthError("INVALID_ARGUMENT", /ADDRESS\/PREFIX/));
    assert.throws(() => planBridge({ name: "br1", addresses: ["10.88.0.300/16"] }, { exists: false }), berthError("INVALID_ARGUMENT"));
    assert.throws(() => planBridge({ name: "br1", addresses: ["fd00::1/129"] }, { exists: false }), berthError("INVALID_ARGUMENT"));
  });
});

describe("net plan: attach", () => {
  it("derives 15-character host names that are stable per key and interface", () => {
    const a = hostVethName("abc", "eth0");
    assert.match(a, /^vb[0-9a-f]{13}$/);
    assert.equal(a, hostVethName("abc", "eth0"));
    assert.notEqual(a, hostVethName("abc", "eth1"));
    assert.notEqual(a, hostVethName("abd", "eth0"));
  });

  it("one veth with v4 + v6, MAC, MTU and default routes: two batches", () => {
    const spec: AttachSpec = {
      netnsPath: NS,
      key: "c1",
      interfaces: [
        { kind: "veth", bridge: "berth0", ifname: "eth0", hostName: "vbtest0", mac: "02:42:0a:58:00:02", mtu: 1500, addresses: ["10.88.0.2/16", "fd00::2/64"], gateways: ["10.88.0.1", "fd00::1"] },
      ],
    };
    assert.deepEqual(planAttach(spec), {
      netnsPath: NS,
      host: [
        `link add name vbtest0 mtu 1500 type veth peer name eth0 address 02:42:0a:58:00:02 mtu 1500 netns ${NS}`,
        "link set dev vbtest0 master berth0 up",
      ],
      netns: [
        "link set dev lo up",
        "link set dev eth0 up",
        "address add 10.88.0.2/16 dev eth0",
        "address add fd00::2/64 dev eth0 nodad",
        "route add default via 10.88.0.1 dev eth0",
        "route add default via fd00::1 dev eth0",
      ],
    });
    assert.deepEqual(planDetach(spec), { netnsPath: NS, host: ["link delete dev vbtest0"], netns: [] });
  });

  it("two veths and a promiscuous macvlan: routes come after every interface is up", () => {
    const spec: AttachSpec = {
      netnsPath: NS,
      key: "c2",
      interfaces: [
        { kind: "veth", bridge: "br1", ifname: "eth0", addresses: ["10.1.0.2/24"], gateways: ["10.1.0.1"] },
        { kind: "veth", bridge: "br2", ifname: "eth1", addresses: ["fd01::2/64"], gateways: ["fd01::1"] },
        { kind: "macvlan", parent: "enp1s0", mode: "passthru", ifname: "eth2", mac: "02:00:00:00:00:09", mtu: 9000, addresses: ["192.0.2.5/24"], promisc: true },
      ],
    };
    const h0 = hostVethName("c2", "eth0");
    const h1 = hostVethName("c2", "eth1");
    const plan = planAttach(spec);
    assert.deepEqual(plan.host, [
      `link add name ${h0} type veth peer name eth0 netns ${NS}`,
      `link set dev ${h0} master br1 up`,
      `link add name ${h1} type veth peer name eth1 netns ${NS}`,
      `link set dev ${h1} master br2 up`,
      `link add link enp1s0 name eth2 address 02:00:00:00:00:09 mtu 9000 netns ${NS} type macvlan mode passthru`,
    ]);
    assert.deepEqual(plan.netns, [
      "link set dev lo up",
      "link set dev eth0 up",
      "address add 10.1.0.2/24 dev eth0",
      "link set dev eth1 up",
      "address add fd01::2/64 dev eth1 nodad",
      "link set dev eth2 promisc on up",
      "address add 192.0.2.5/24 dev eth2",
      "route add default via 10.1.0.1 dev eth0",
      "route add default via fd01::1 dev eth1",
    ]);
    assert.deepEqual(planDetach(spec), { netnsPath: NS, host: [`link delete dev ${h0}`, `link delete dev ${h1}`], netns: ["link delete dev eth2"] });
  });

  it("rollback deletes only what the failed attempt created", () => {
    const spec: AttachSpec = {
      netnsPath: NS,
      key: "c4",
      interfaces: [
        { kind: "veth", bridge: "br1", ifname: "eth0", hostName: "vbA" },
        { kind: "macvlan", parent: "br2", mode: "bridge", ifname: "eth1" },
        { kind: "veth", bridge: "br1", ifname: "eth2", hostName: "vbC" },
      ],
    };
    // host lines: 1 add vbA, 2 master vbA, 3 add eth1 (macvlan), 4 add vbC, 5 master vbC
    assert.deepEqual(planRollback(spec, 0), { netnsPath: NS, host: [], netns: [] });
    assert.deepEqual(planRollback(spec, 1), { netnsPath: NS, host: ["link delete dev vbA"], netns: [] });
    assert.deepEqual(planRollback(spec, 3), { netnsPath: NS, host: ["link delete dev vbA"], netns: ["link delete dev eth1"] });
    assert.deepEqual(planRollback(spec, 5), planDetach(spec));
  });

  it("a live connect without lo and without routes", () => {
    const plan = planAttach({ netnsPath: NS, key: "c3", loopback: false, interfaces: [{ kind: "macvlan", parent: "br9", mode: "bridge", ifname: "eth1" }] });
    assert.deepEqual(plan, { netnsPath: NS, host: [`link add link br9 name eth1 netns ${NS} type macvlan mode bridge`], netns: ["link set dev eth1 up"] });
  });

  it("refuses ambiguous or malformed specs", () => {
    const base = { netnsPath: NS, key: "k" };
    const veth = { kind: "veth" as const, bridge: "br0" };
    assert.throws(() => planAttach({ ...base, interfaces: [] }), berthError("INVALID_ARGUMENT", /no interfaces/));
    assert.throws(() => planAttach({ ...base, netnsPath: "relative/ns", interfaces: [{ ...veth, ifname: "eth0" }] }), berthError("INVALID_ARGUMENT", /absolute/));
    assert.throws(() => planAttach({ ...base, netnsPath: "/run/my ns", interfaces: [{ ...veth, ifname: "eth0" }] }), berthError("INVALID_ARGUMENT", /blanks/));
    assert.throws(() => planAttach({ ...base, interfaces: [{ ...veth, ifname: "eth0" }, { ...veth, ifname: "eth0" }] }), berthError("INVALID_ARGUMENT", /twice/));
    assert.throws(
      () => planAttach({ ...base, interfaces: [{ ...veth, ifname: "eth0", gateways: ["10.0.0.1"] }, { ...veth, ifname: "eth1", gateways: ["10.1.0.1"] }] }),
      berthError("INVALID_ARGUMENT", /more than one IPv4 default gateway/),
    );
    assert.throws(() => planAttach({ ...base, interfaces: [{ ...veth, ifname: "eth0", mac: "02:42:AC:11:00:02" }] }), berthError("INVALID_ARGUMENT", /MAC/));
    assert.throws(() => planAttach({ ...base, interfaces: [{ ...veth, ifname: "eth0", gateways: ["nope"] }] }), berthError("INVALID_ARGUMENT", /gateway/));
    assert.throws(
      () => planAttach({ ...base, interfaces: [{ kind: "macvlan", parent: "br0", mode: "l2" as "bridge", ifname: "eth0" }] }),
      berthError("INVALID_ARGUMENT", /macvlan mode/),
    );
  });
});

describe("net plan: executor helpers", () => {
  it("pairs ip -batch error messages with their line numbers", () => {
    assert.deepEqual(parseBatchErrors('RTNETLINK answers: File exists\nCommand failed -:3\nCannot find device "x"\nCommand failed -:7\n'), [
      { line: 3, message: "RTNETLINK answers: File exists" },
      { line: 7, message: 'Cannot find device "x"' },
    ]);
    assert.deepEqual(parseBatchErrors("Error: Unknown device type.\nCommand failed -:1\n"), [{ line: 1, message: "Error: Unknown device type." }]);
  });

  it("builds nsenter argv", () => {
    assert.deepEqual(nsenterArgs("/r/netns/a"), ["nsenter", "--net=/r/netns/a"]);
    assert.deepEqual(nsenterArgs("/r/netns/a", ["ip", "-j", "link"]), ["nsenter", "--net=/r/netns/a", "--", "ip", "-j", "link"]);
  });
});
