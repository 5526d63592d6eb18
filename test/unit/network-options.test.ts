/** `network create -o key=value`: the options that apply to every interface of a network (mtu, promisc). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseNetworkOptions } from "../../src/engine/networks.js";
import { toNetworkCreate } from "../../src/cli/commands/network.js";
import { berthError } from "../helpers/errors.js";

describe("network options", () => {
  it("promisc takes true/false/on/off/1/0, in any case", () => {
    for (const v of ["true", "on", "1", "TRUE", "On"]) assert.deepEqual(parseNetworkOptions({ promisc: v }), { promisc: true }, v);
    for (const v of ["false", "off", "0", "False", "OFF"]) assert.deepEqual(parseNetworkOptions({ promisc: v }), { promisc: false }, v);
  });

  it("anything else for promisc is one clear line", () => {
    for (const v of ["", "yes", "2", "true ", "enabled"]) {
      assert.throws(() => parseNetworkOptions({ promisc: v }), berthError("INVALID_ARGUMENT", /^invalid network option promisc=.*: expected true, false, on, off, 1 or 0$/), JSON.stringify(v));
    }
  });

  it("mtu is checked; absent options stay absent", () => {
    assert.deepEqual(parseNetworkOptions({}), {});
    assert.deepEqual(parseNetworkOptions({ mtu: "9000", promisc: "on", parent: "br0", mode: "passthru", bridge: "b0" }), { mtu: 9000, promisc: true });
    for (const v of ["67", "65536", "1500.5", "x", ""]) assert.throws(() => parseNetworkOptions({ mtu: v }), berthError("INVALID_ARGUMENT", /invalid network option mtu=/), v);
  });

  it("unknown keys are refused, naming the known ones", () => {
    assert.throws(() => parseNetworkOptions({ promiscuous: "true" }), berthError("INVALID_ARGUMENT", /invalid network option "promiscuous": use parent, mode, mtu, promisc or bridge/));
  });

  it("the CLI passes -o promisc=... through to the engine unchanged", () => {
    assert.deepEqual(toNetworkCreate("n", { opt: ["promisc=true", "mtu=1400"] }).options, { promisc: "true", mtu: "1400" });
  });
});
