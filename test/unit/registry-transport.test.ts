import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../src/engine/config.js";
import { isListedInsecure, isLoopbackHost, loadTlsMaterial, transportPolicy } from "../../src/image/registry/index.js";
import { systemCaCerts, tlsConnectOptions } from "../../src/image/registry/transport.js";
import { BerthError } from "../../src/core/errors.js";

const cfg = (insecure: string[] = []) => ({ ...defaultConfig(), registries: { insecure, mirrors: {} } });

describe("scheme / insecure decision", () => {
  it("recognises loopback hosts", () => {
    for (const h of ["127.0.0.1:5000", "127.1.2.3", "localhost:5000", "localhost", "[::1]:5000", "::1"]) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ["10.0.0.1:5000", "docker.io", "registry.local:443", "[fe80::1]:5000", "128.0.0.1"]) assert.equal(isLoopbackHost(h), false, h);
  });

  it("matches registries.insecure entries exactly, by bare host, and by CIDR", () => {
    assert.equal(isListedInsecure("reg.lan:5000", ["reg.lan:5000"]), true);
    assert.equal(isListedInsecure("reg.lan:5001", ["reg.lan:5000"]), false);
    assert.equal(isListedInsecure("reg.lan:5001", ["reg.lan"]), true);
    assert.equal(isListedInsecure("10.1.2.3:5000", ["10.0.0.0/8"]), true);
    assert.equal(isListedInsecure("11.1.2.3:5000", ["10.0.0.0/8"]), false);
    assert.equal(isListedInsecure("reg.lan", ["http://reg.lan/"]), true);
    assert.equal(isListedInsecure("other", ["10.0.0.0/8", "", "bad/cidr"]), false);
  });

  it("HTTP fallback for insecure registries, verification skipped only when listed or --tls-verify=false", () => {
    assert.deepEqual(transportPolicy("docker.io", cfg()), { allowHttp: false, skipVerify: false });
    // loopback: plain HTTP allowed, but a TLS certificate is still verified
    assert.deepEqual(transportPolicy("127.0.0.1:5000", cfg()), { allowHttp: true, skipVerify: false });
    assert.deepEqual(transportPolicy("localhost:5000", cfg()), { allowHttp: true, skipVerify: false });
    assert.deepEqual(transportPolicy("reg.lan:5000", cfg(["reg.lan:5000"])), { allowHttp: true, skipVerify: true });
    assert.deepEqual(transportPolicy("reg.lan:5000", cfg(), false), { allowHttp: true, skipVerify: true });
    // --tls-verify=true wins over everything
    assert.deepEqual(transportPolicy("127.0.0.1:5000", cfg(["127.0.0.1:5000"]), true), { allowHttp: false, skipVerify: false });
  });
});

describe("certs.d lookup", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-certsd-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const put = (p: string, text: string) => {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), text);
  };
  put("a/reg.lan:5000/ca.crt", "CA-A");
  put("a/reg.lan:5000/client.cert", "CERT-A");
  put("a/reg.lan:5000/client.key", "KEY-A");
  put("a/reg.lan:5000/README", "ignored");
  put("b/reg.lan:5000/extra.crt", "CA-B");
  put("b/reg.lan:5000/other.cert", "CERT-B");
  put("b/reg.lan:5000/other.key", "KEY-B");
  put("b/registry-1.docker.io/hub.crt", "CA-HUB");
  put("flat/my.crt", "CA-FLAT");
  put("bad/reg.lan:5000/lonely.cert", "X");
  put("badkey/only.key", "X");

  it("collects CAs from every certs.d root in order; the first client pair wins", () => {
    const m = loadTlsMaterial("reg.lan:5000", { certsDirs: [join(dir, "a"), join(dir, "missing"), join(dir, "b")] });
    assert.deepEqual(m.ca, ["CA-A", "CA-B"]);
    assert.deepEqual(m.caFiles, [join(dir, "a/reg.lan:5000/ca.crt"), join(dir, "b/reg.lan:5000/extra.crt")]);
    assert.equal(m.cert, "CERT-A");
    assert.equal(m.key, "KEY-A");
    assert.equal(m.keyFile, join(dir, "a/reg.lan:5000/client.key"));
  });

  it("looks up aliases (docker.io is served by registry-1.docker.io) and nothing for unknown hosts", () => {
    assert.deepEqual(loadTlsMaterial("docker.io", { certsDirs: [join(dir, "b")], aliases: ["registry-1.docker.io"] }).ca, ["CA-HUB"]);
    assert.deepEqual(loadTlsMaterial("nowhere:1", { certsDirs: [join(dir, "a")] }), { caFiles: [], ca: [] });
  });

  it("--cert-dir replaces the certs.d lookup and reads files directly in it", () => {
    const m = loadTlsMaterial("reg.lan:5000", { certDir: join(dir, "flat"), certsDirs: [join(dir, "a")] });
    assert.deepEqual(m.ca, ["CA-FLAT"]);
    assert.equal(m.cert, undefined);
    assert.throws(() => loadTlsMaterial("x", { certDir: join(dir, "nope") }), (e: unknown) => e instanceof BerthError && e.code === "INVALID_ARGUMENT");
  });

  it("a client certificate without its key (or the reverse) is a clear error", () => {
    assert.throws(() => loadTlsMaterial("reg.lan:5000", { certsDirs: [join(dir, "bad")] }), /lonely\.cert has no matching key/);
    assert.throws(() => loadTlsMaterial("x", { certDir: join(dir, "badkey") }), /only\.key has no matching certificate/);
  });

  it("extra CAs are added to the system roots, not instead of them", () => {
    const o = tlsConnectOptions({ caFiles: ["x"], ca: ["CA-X"] }, { allowHttp: false, skipVerify: false });
    assert.deepEqual(o.ca, [...systemCaCerts(), "CA-X"]);
    // The system store is the host bundle when there is one, else Node's roots: never empty.
    assert.ok(systemCaCerts().join("").split("BEGIN CERTIFICATE").length > 50);
    assert.equal(o.rejectUnauthorized, true);
    const none = tlsConnectOptions({ caFiles: [], ca: [] }, { allowHttp: true, skipVerify: true });
    assert.deepEqual(none.ca, systemCaCerts());
    assert.equal(none.rejectUnauthorized, false);
  });
});
