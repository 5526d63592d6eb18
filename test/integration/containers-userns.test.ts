/**
 * --uidmap/--gidmap: a user namespace whose root is an unprivileged host uid. The overlay is mounted by
 * the host's root and handed to the runtime; the container's root owns its upper layer.
 */
import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { ContainerSandbox } from "../helpers/containers.js";

const T = { timeout: 60_000 };

describe("containers: user namespaces", () => {
  let sb: ContainerSandbox;

  before(async () => {
    sb = await ContainerSandbox.create();
  });

  after(async () => {
    await sb?.cleanupAsync();
  });

  it("refuses a root the mapped user cannot reach, naming the directory, and leaves nothing", T, async () => {
    const r = sb.run(["run", "--rm", "--uidmap", "0:200000:65536", "busybox", "true"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`${sb.dir} is not searchable by others`));
    assert.equal(sb.ok(["ps", "-aq"]).trim(), "");
    assert.deepEqual(await sb.leftovers(), []);
  });

  it("maps the container's root to a host uid; it can write its own files", T, async () => {
    chmodSync(sb.dir, 0o711);
    const out = sb.ok(["run", "--rm", "--uidmap", "0:200000:65536", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map; echo w > /f && cat /f; hostname"]);
    const [uid, map, written, host] = out.trim().split("\n").map((l) => l.trim());
    assert.equal(uid, "0");
    assert.deepEqual(map!.split(/\s+/), ["0", "200000", "65536"]);
    assert.equal(written, "w");
    assert.match(host!, /^[0-9a-f]{12}$/);
    assert.deepEqual(await sb.leftovers(), []);
  });

  it("--userns keep-id is refused for root, as podman does", T, () => {
    const r = sb.run(["run", "--rm", "--userns", "keep-id", "busybox", "true"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /keep-id .* berth runs as root: use --uidmap/);
  });
});
