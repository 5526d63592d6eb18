/**
 * Golden files: the whole spec for a fixed input and fixed host facts. Regenerate with
 * `UPDATE_GOLDEN=1 node --test dist/test/unit/spec-golden.test.js` and review the diff.
 * The default seccomp filter belongs to seccomp.ts (its own tests); here it is checked to be
 * defaultSeccomp(bounding set, arch) and then stands in the golden file as a marker, so changes to the
 * profile do not churn these files.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { generateSpec } from "../../src/core/spec/generate.js";
import { defaultSeccomp } from "../../src/core/spec/index.js";
import type { SpecInput } from "../../src/core/spec/types.js";
import { testInput, validateRuntimeSpec } from "../helpers/runtime-schema.js";

const SECCOMP_MARKER = "<defaultSeccomp(process.capabilities.bounding, host.arch)>";

function golden(name: string, input: SpecInput): void {
  const spec = generateSpec(input);
  assert.deepEqual(validateRuntimeSpec(spec), []);
  const out = structuredClone(spec) as unknown as { linux: Record<string, unknown> };
  if (spec.linux.seccomp) {
    assert.deepEqual(spec.linux.seccomp, defaultSeccomp({ capabilities: spec.process.capabilities!.bounding, arch: input.host.arch }));
    out.linux.seccomp = SECCOMP_MARKER;
  }
  // tsc does not copy JSON into dist/: read the checked-in file from the source tree.
  const file = new URL(`../../../test/golden/${name}`, import.meta.url);
  const text = `${JSON.stringify(out, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, text);
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), JSON.parse(text));
}

const IMAGE = { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"], Entrypoint: ["/usr/lib/frr/docker-start"], WorkingDir: "/" };

test("golden: default run", () => {
  golden(
    "spec-default.json",
    testInput({
      image: IMAGE,
      options: { name: "r1", hostname: "r1" },
      extraMounts: [
        { destination: "/etc/hosts", type: "bind", source: "/run/berth/containers/r1/hosts", options: ["rbind", "rprivate", "rw"] },
        { destination: "/etc/resolv.conf", type: "bind", source: "/run/berth/containers/r1/resolv.conf", options: ["rbind", "rprivate", "rw"] },
      ],
    }),
  );
});

test("golden: privileged lab router", () => {
  golden(
    "spec-privileged.json",
    testInput({
      image: IMAGE,
      options: {
        name: "r2",
        hostname: "r2",
        privileged: true,
        tty: true,
        init: true,
        env: ["DAEMONS=bgpd"],
        sysctls: { "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1" },
        tmpfs: { "/run": "" },
        memory: 256 * 1024 * 1024,
        pidsLimit: 512,
      },
      netnsPath: "/run/berth/netns/lab-r2",
    }),
  );
});
