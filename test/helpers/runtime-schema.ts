/**
 * Validate a generated spec against the OCI runtime-spec JSON schema that Debian's
 * golang-github-opencontainers-specs-dev ships (make test-deps installs it). The schema is read from there at
 * test time, never copied into the repo. It is draft-04, hence ajv-draft-04.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import AjvModule from "ajv-draft-04";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { HostFacts, SpecInput } from "../../src/core/spec/types.js";

export const RUNTIME_SCHEMA_DIR = "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema";

type AjvInstance = {
  addSchema(schema: object, key?: string): unknown;
  getSchema(key: string): ValidateFunction | undefined;
  errorsText(errors?: ErrorObject[] | null): string;
};
// A CommonJS module: under NodeNext the default import is module.exports, which is the constructor itself.
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as new (opts: object) => AjvInstance;

let validator: ValidateFunction | undefined;

function load(): ValidateFunction {
  if (validator) return validator;
  // Unknown formats/keywords in the schema must not be fatal; missing $refs still are.
  const ajv = new Ajv({ allErrors: true, strict: false });
  let rootId = "";
  for (const name of readdirSync(RUNTIME_SCHEMA_DIR).filter((n) => n.endsWith(".json")).sort()) {
    const file = join(RUNTIME_SCHEMA_DIR, name);
    const schema = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    // The files carry no ids; give each its file URL so the relative $refs ("defs.json#/...") resolve.
    schema.id = pathToFileURL(file).href;
    ajv.addSchema(schema);
    if (name === "config-schema.json") rootId = schema.id as string;
  }
  if (!rootId) throw new Error(`config-schema.json not found in ${RUNTIME_SCHEMA_DIR} (install golang-github-opencontainers-specs-dev)`);
  const v = ajv.getSchema(rootId);
  if (!v) throw new Error("could not compile the runtime-spec schema");
  validator = v;
  return v;
}

/** Schema errors of a runtime spec, one line each ("/linux/resources/pids must have required property 'limit'"); [] when valid. */
export function validateRuntimeSpec(spec: unknown): string[] {
  const v = load();
  // Validate the JSON form (what runc reads), not the in-memory object.
  const ok = v(JSON.parse(JSON.stringify(spec)));
  if (ok) return [];
  return (v.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "invalid"}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
}

// ---- Fixtures shared by the spec-*.test.ts files: fixed host facts and a minimal input. ----


export const TEST_ID = "0123456789abcdef".repeat(4);

export function testHost(over: Partial<HostFacts> = {}): HostFacts {
  return {
    arch: "amd64",
    cgroupVersion: 2,
    capLastCap: 40,
    seccomp: true,
    apparmor: { enabled: false },
    selinux: false,
    hardLimits: { nofile: 524288, nproc: 63000, core: 0 },
    devices: [
      { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
      { path: "/dev/sda", type: "b", major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 },
      { path: "/dev/net/tun", type: "c", major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 },
      { path: "/dev/pts/0", type: "c", major: 136, minor: 0, fileMode: 0o620, uid: 0, gid: 5 },
      { path: "/dev/console", type: "c", major: 5, minor: 1, fileMode: 0o600, uid: 0, gid: 0 },
    ],
    procKcore: true,
    initPath: "/usr/bin/catatonit",
    uid: 0,
    gid: 0,
    ...over,
  };
}

/** A busybox-like image run with no flags; `options` and `host` are merged over the defaults. */
export function testInput(over: Partial<Omit<SpecInput, "options" | "host">> & { options?: Partial<SpecInput["options"]>; host?: Partial<HostFacts> } = {}): SpecInput {
  const { options, host, ...rest } = over;
  return {
    id: TEST_ID,
    rootfs: `/var/lib/berth/overlay/${TEST_ID}/merged`,
    image: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
    user: { uid: 0, gid: 0, additionalGids: [], home: "/root", username: "root" },
    cgroupsPath: `berth/${TEST_ID}`,
    ...rest,
    options: { image: "busybox", ...options },
    host: testHost(host),
  };
}
