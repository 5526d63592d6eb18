import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveUser } from "../../src/core/spec/user.js";
import { berthError } from "../helpers/errors.js";

const PASSWD = `# comment
root:x:0:0:root:/root:/bin/sh

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
frr:x:100:101:FRR suite:/var/run/frr:/bin/false
alice:x:1000:1000:Alice:/home/alice:/bin/bash
broken line
nohome:x:1001:1001::
`;
const GROUP = `root:x:0:
wheel:x:10:root,alice
frrvty:x:85:frr
frr:x:101:
alice:x:1000:
audio:x:29:alice, frr
# staff:x:50:alice
`;

test("no user: root, HOME from passwd or /root", () => {
  assert.deepEqual(resolveUser(undefined, PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [10], home: "/root", username: "root" });
  assert.deepEqual(resolveUser("", PASSWD, GROUP).uid, 0);
  assert.deepEqual(resolveUser(undefined, undefined, undefined), { uid: 0, gid: 0, additionalGids: [], home: "/root" });
});

test("a name: uid, primary gid and HOME from passwd, groups from member lists", () => {
  assert.deepEqual(resolveUser("frr", PASSWD, GROUP), { uid: 100, gid: 101, additionalGids: [85, 29], home: "/var/run/frr", username: "frr" });
  assert.deepEqual(resolveUser("alice", PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: "/home/alice", username: "alice" });
  assert.equal(resolveUser("nohome", PASSWD, GROUP).home, "/");
});

test("a number: always a uid; known ones take passwd's gid and HOME, unknown ones 0 and /", () => {
  assert.deepEqual(resolveUser("100", PASSWD, GROUP), { uid: 100, gid: 101, additionalGids: [85, 29], home: "/var/run/frr", username: "frr" });
  assert.deepEqual(resolveUser("4242", PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [], home: "/" });
  assert.deepEqual(resolveUser("4242:4343", undefined, undefined), { uid: 4242, gid: 4343, additionalGids: [], home: "/" });
});

test("user:group with names or numbers replaces the primary gid and drops membership groups", () => {
  assert.deepEqual(resolveUser("frr:frrvty", PASSWD, GROUP), { uid: 100, gid: 85, additionalGids: [], home: "/var/run/frr", username: "frr" });
  assert.deepEqual(resolveUser("alice:50", PASSWD, GROUP), { uid: 1000, gid: 50, additionalGids: [], home: "/home/alice", username: "alice" });
  assert.deepEqual(resolveUser("1000:wheel", PASSWD, GROUP).gid, 10);
});

test("--group-add names and numbers are appended, without duplicates", () => {
  assert.deepEqual(resolveUser("frr", PASSWD, GROUP, ["wheel", "29", "5000"]).additionalGids, [85, 29, 10, 5000]);
  assert.deepEqual(resolveUser("frr:frr", PASSWD, GROUP, ["audio"]).additionalGids, [29]);
});

test("missing names are INVALID_ARGUMENT with Docker's wording", () => {
  assert.throws(() => resolveUser("bob", PASSWD, GROUP), berthError("INVALID_ARGUMENT", /^unable to find user bob: no matching entries in passwd file$/));
  assert.throws(() => resolveUser("bob", undefined, undefined), berthError("INVALID_ARGUMENT", /unable to find user bob/));
  assert.throws(() => resolveUser("frr:staff", PASSWD, GROUP), berthError("INVALID_ARGUMENT", /unable to find group staff: no matching entries in group file/));
  assert.throws(() => resolveUser("frr", PASSWD, GROUP, ["nogroup"]), berthError("INVALID_ARGUMENT", /--group-add "nogroup"/));
  assert.throws(() => resolveUser("a:b:c", PASSWD, GROUP), berthError("INVALID_ARGUMENT", /--user/));
  assert.throws(() => resolveUser("99999999999", PASSWD, GROUP), berthError("INVALID_ARGUMENT", /out of range/));
});
