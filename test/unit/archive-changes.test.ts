import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyChanges, parseChange, splitWords } from "../../src/image/archive/changes.js";
import { BerthError } from "../../src/core/errors.js";

function rejects(change: string, pattern: RegExp): void {
  assert.throws(
    () => parseChange(change),
    (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT" && e.message.includes(`"${change}"`) && pattern.test(e.message),
  );
}

describe("archive: import --change parsing", () => {
  it("splits words with quotes and escapes", () => {
    assert.deepEqual(splitWords(`a "b c" 'd e' f\\ g`), ["a", "b c", "d e", "f g"]);
    assert.deepEqual(splitWords(`k="v w"`), ["k=v w"]);
    assert.throws(() => splitWords(`"open`), /unterminated/);
  });

  it("CMD and ENTRYPOINT take JSON arrays or shell strings", () => {
    const c = applyChanges({}, ['CMD=["echo","hi"]', "ENTRYPOINT=/bin/run --flag"]);
    assert.deepEqual(c.Cmd, ["echo", "hi"]);
    assert.deepEqual(c.Entrypoint, ["/bin/sh", "-c", "/bin/run --flag"]);
    assert.deepEqual(applyChanges({}, ['CMD ["sh"]']).Cmd, ["sh"], "Docker's space spelling works too");
    rejects('CMD=["a", 1]', /array of strings/);
    rejects("CMD=[oops", /JSON/);
  });

  it("ENV replaces existing keys and supports several pairs and the legacy form", () => {
    const c = applyChanges({ Env: ["PATH=/bin", "A=0"] }, ["ENV=A=1", 'ENV=B="two words" C=3', "ENV=D four five", "ENV=E=six  seven"]);
    assert.deepEqual(c.Env, ["PATH=/bin", "A=1", "B=two words", "C=3", "D=four five", "E=six  seven"]);
  });

  it("LABEL, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL", () => {
    const c = applyChanges({}, ["LABEL=a=1", 'LABEL=b="x y"', "EXPOSE=80/tcp 53/udp 8080", "EXPOSE=9000-9002", "VOLUME=/data", 'VOLUME=["/a","/b"]', "WORKDIR=/srv", "WORKDIR=app", "USER=nobody:nogroup", "STOPSIGNAL=sigint"]);
    assert.deepEqual(c.Labels, { a: "1", b: "x y" });
    assert.deepEqual(Object.keys(c.ExposedPorts!).sort(), ["53/udp", "80/tcp", "8080/tcp", "9000/tcp", "9001/tcp", "9002/tcp"]);
    assert.deepEqual(Object.keys(c.Volumes!), ["/data", "/a", "/b"]);
    assert.equal(c.WorkingDir, "/srv/app");
    assert.equal(c.User, "nobody:nogroup");
    assert.equal(c.StopSignal, "SIGINT");
  });

  it("rejects bad changes with a message naming them", () => {
    rejects("FROM=busybox", /unsupported instruction "FROM"/);
    rejects("CMD=", /needs a value/);
    rejects("nonsense", /expected INSTRUCTION=VALUE/);
    rejects("LABEL=novalue", /not KEY=VALUE/);
    rejects("EXPOSE=http", /PORT/);
    rejects("EXPOSE=70000", /out of range/);
    rejects("VOLUME=relative", /absolute/);
    rejects("USER=a b", /single word/);
  });

  it("validates all changes before applying any, and does not modify the base", () => {
    const base = { Env: ["A=1"] };
    assert.throws(() => applyChanges(base, ["ENV=A=2", "BOGUS=1"]), /BOGUS/);
    assert.deepEqual(base, { Env: ["A=1"] });
    applyChanges(base, ["ENV=A=2"]);
    assert.deepEqual(base, { Env: ["A=1"] });
  });
});
