import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bridgePortName, parkedPeerName, planStash, planUnwiring, planWiring, stashName } from "../../src/lab/wiring.js";
import type { LabPlan, NodePlan, PlannedInterface } from "../../src/lab/types.js";

function node(name: string, interfaces: PlannedInterface[]): NodePlan {
  return { name, container: `lab-${name}`, model: "linux", image: "busybox", mgmtInterface: "eth0", privileged: false, env: [], sysctls: {}, capAdd: [], files: [], binds: [], exec: [], interfaces };
}

const plan: LabPlan = {
  name: "lab",
  baseDir: "/x",
  mgmt: { network: "lab-lab", bridge: "blmgmt" },
  nodes: [
    node("a", [
      { name: "eth1", index: 1, peer: { kind: "link", link: 0, node: "b", interface: "e1-1" } },
      { name: "eth2", index: 2, peer: { kind: "bridge", bridge: "lan" } },
      { name: "eth3", index: 3, peer: { kind: "none" } },
    ]),
    node("b", [
      { name: "e1-1", index: 1, peer: { kind: "link", link: 0, node: "a", interface: "eth1" } },
      { name: "e1-2", index: 2, peer: { kind: "bridge", bridge: "lan" } },
    ]),
  ],
  links: [{ endpoints: [{ node: "a", interface: "eth1" }, { node: "b", interface: "e1-1" }], mtu: 9500 }],
  bridges: [{ name: "lan", device: "bllan", mtu: 9500, endpoints: [{ node: "a", interface: "eth2" }, { node: "b", interface: "e1-2" }] }],
};
const netns = (n: string) => `/run/ns/${n}`;

describe("lab wiring", () => {
  it("creates every link with both ends in place, named, with its MTU, in one host batch", () => {
    const w = planWiring({ plan, netns, park: "/run/ns/park", createBridges: true });
    const pa = bridgePortName("lab", { node: "a", interface: "eth2" });
    const pb = bridgePortName("lab", { node: "b", interface: "e1-2" });
    assert.deepEqual(w.host, [
      "link add name eth1 mtu 9500 netns /run/ns/a up type veth peer name e1-1 mtu 9500 netns /run/ns/b",
      "link add name bllan type bridge",
      "link set dev bllan mtu 9500 addrgenmode none",
      "link set dev bllan up",
      `link add name eth2 mtu 9500 netns /run/ns/a up type veth peer name ${pa} mtu 9500`,
      `link set dev ${pa} master bllan up`,
      `link add name e1-2 mtu 9500 netns /run/ns/b up type veth peer name ${pb} mtu 9500`,
      `link set dev ${pb} master bllan up`,
      `link add name eth3 netns /run/ns/a type veth peer name ${parkedPeerName("lab", "a", "eth3")} netns /run/ns/park`,
    ]);
    // Only the far end of the point-to-point link needs a batch of its own.
    assert.deepEqual([...w.inside], [["b", ["link set dev e1-1 up"]]]);
  });

  it("rewires only the links touching the redeployed nodes, without recreating bridges", () => {
    const w = planWiring({ plan, netns, park: "/run/ns/park", createBridges: false, only: new Set(["b"]) });
    assert.equal(w.host.filter((l) => l.includes("type bridge")).length, 0);
    assert.equal(w.host.filter((l) => l.startsWith("link add")).length, 2, w.host.join("\n"));
    assert.ok(w.host.every((l) => !l.includes("peer name pk")), "a's parked interface is not touched");
  });

  it("names host ends within the kernel's 15 characters, distinct per lab and node", () => {
    const names = [bridgePortName("lab", { node: "a", interface: "eth2" }), bridgePortName("lab2", { node: "a", interface: "eth2" }), parkedPeerName("lab", "a", "eth3"), parkedPeerName("lab", "b", "eth3")];
    assert.equal(new Set(names).size, names.length);
    for (const n of names) assert.ok(n.length <= 15, n);
  });

  it("stashes a redeployed node's interfaces in the parking netns and moves them back instead of recreating them", () => {
    assert.deepEqual(planStash("lab", plan.nodes[1]!, "/run/ns/park"), [
      `link set dev e1-1 netns /run/ns/park name ${stashName("lab", "b", "e1-1")}`,
      `link set dev e1-2 netns /run/ns/park name ${stashName("lab", "b", "e1-2")}`,
    ]);
    const w = planWiring({ plan, netns, park: "/run/ns/park", createBridges: false, only: new Set(["b"]), stashed: new Set(["b/e1-1", "b/e1-2"]) });
    assert.deepEqual(w.host, [], "nothing is created: a's end of the link was never deleted");
    assert.deepEqual(w.park, [`link set dev ${stashName("lab", "b", "e1-1")} netns /run/ns/b name e1-1`, `link set dev ${stashName("lab", "b", "e1-2")} netns /run/ns/b name e1-2`]);
    assert.deepEqual([...w.inside], [["b", ["link set dev e1-1 up", "link set dev e1-2 up"]]]);
  });

  it("removes a lab's bridges and their ports", () => {
    assert.deepEqual(planUnwiring(plan), [
      `link delete dev ${bridgePortName("lab", { node: "a", interface: "eth2" })}`,
      `link delete dev ${bridgePortName("lab", { node: "b", interface: "e1-2" })}`,
      "link delete dev bllan",
    ]);
  });
});
