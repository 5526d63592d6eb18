/**
 * Lab manifest: YAML text -> a validated LabManifest. Pure: the caller reads the file. Structure (which
 * keys, which shapes) is checked here; meaning (do links name real nodes and interfaces, do addresses fit
 * the subnets) is the planner's, so a LabManifest built in code is checked the same way.
 */
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import { z } from "zod";
import { manifestError, show, type FieldPath } from "./manifest-error.js";
import * as v from "./manifest-values.js";
import type { EndpointSpec } from "./manifest-values.js";

export type { EndpointSpec } from "./manifest-values.js";

export interface FileSpec {
  /** As written (relative to the manifest's folder or absolute); the planner resolves it. */
  source: string;
  destination: string;
  owner?: string;
  group?: string;
  mode?: number;
}

/** A node as written in `nodes` or `defaults`: every key optional, sizes in bytes, modes as numbers. */
export interface NodeSpec {
  model?: string;
  image?: string;
  mgmtIpv4?: string;
  mgmtIpv6?: string;
  cpus?: number;
  memory?: number;
  dataInterfaces?: number;
  privileged?: boolean;
  env?: Record<string, string>;
  /** [] means "the image's own" (a model's default command is dropped). */
  cmd?: string[];
  entrypoint?: string[];
  user?: string;
  shmSize?: number;
  sysctls?: Record<string, string>;
  capAdd?: string[];
  files?: FileSpec[];
  startupConfig?: string;
  binds?: string[];
  exec?: string[];
}

export interface LinkSpec {
  endpoints: [EndpointSpec, EndpointSpec];
  mtu?: number;
}

export interface BridgeSpec {
  name: string;
  endpoints: EndpointSpec[];
  mtu?: number;
}

export interface LabManifest {
  name: string;
  mgmt: { ipv4Subnet?: string; ipv6Subnet?: string };
  defaults: NodeSpec;
  nodes: Record<string, NodeSpec>;
  links: LinkSpec[];
  bridges: BridgeSpec[];
  /** Absolute folder relative paths are resolved against. */
  baseDir: string;
  /** Named in error messages. */
  file?: string;
}

// ---- schema -------------------------------------------------------------------------------------

/** A zod leaf around a value parser; its BadValue becomes an issue at the field (plus the value's own path). */
function leaf<T>(parse: (x: unknown) => T) {
  return z.unknown().transform((x, ctx): T => {
    try {
      return parse(x);
    } catch (e) {
      if (!(e instanceof v.BadValue)) throw e;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: e.message, path: [...e.path] });
      return z.NEVER;
    }
  });
}

const opt = <T>(parse: (x: unknown) => T) => leaf(parse).optional();

/** Unknown keys are refused (a typo must not silently do nothing); the error suggests the closest key. */
function strict<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  return z
    .object(shape, {
      errorMap: (issue, ctx) => (issue.code === "unrecognized_keys" ? { message: suggest(issue.keys[0]!, known) } : { message: ctx.defaultError }),
    })
    .strict();
}

const nodeShape = {
  model: opt(v.str),
  image: opt(v.str),
  "mgmt-ipv4": opt(v.str),
  "mgmt-ipv6": opt(v.str),
  cpus: opt(v.positiveNumber),
  memory: opt(v.memory),
  "data-interfaces": opt((x) => v.integer(x, 0)),
  privileged: opt(v.bool),
  env: opt((x) => v.keyValues(x, v.envKey)),
  cmd: opt((x) => v.list(x, v.arg)),
  entrypoint: opt((x) => v.list(x, v.arg)),
  user: opt(v.nameOrId),
  "shm-size": opt((x) => v.size(x)),
  sysctls: opt((x) => v.keyValues(x, v.sysctlKey)),
  "cap-add": opt((x) => v.list(x, v.str)),
  files: z
    .array(
      strict({
        source: leaf(v.str),
        destination: leaf(v.containerPath),
        owner: opt(v.nameOrId),
        group: opt(v.nameOrId),
        mode: opt(v.mode),
      }),
    )
    .optional(),
  "startup-config": opt(v.str),
  binds: opt((x) => v.list(x, v.bind)),
  exec: opt((x) => v.list(x, v.str)),
};

const nodeSchema = strict(nodeShape);

const defaultsSchema = strict({
  ...nodeShape,
  "mgmt-ipv4": opt(v.forbidden("a static management address belongs to one node, not to defaults")),
  "mgmt-ipv6": opt(v.forbidden("a static management address belongs to one node, not to defaults")),
});

const linkSchema = strict({
  endpoints: z.array(leaf(v.endpoint)).length(2, "a link has exactly two endpoints"),
  mtu: opt((x) => v.integer(x, 0)),
});

const bridgeSchema = strict({
  name: leaf(v.bridgeName),
  endpoints: z.array(leaf(v.endpoint)).min(1, "a bridge needs at least one endpoint"),
  mtu: opt((x) => v.integer(x, 0)),
});

const manifestSchema = strict({
  name: leaf(v.labName),
  mgmt: strict({ "ipv4-subnet": opt(v.str), "ipv6-subnet": opt(v.str) }).optional(),
  defaults: defaultsSchema.optional(),
  nodes: z.record(leaf(v.nodeName), nodeSchema).refine((n) => Object.keys(n).length > 0, "a lab needs at least one node"),
  links: z.array(linkSchema).optional(),
  bridges: z.array(bridgeSchema).optional(),
});

type RawNode = z.infer<typeof nodeSchema>;
type RawManifest = z.infer<typeof manifestSchema>;

// ---- parse --------------------------------------------------------------------------------------

/** Parse and validate a manifest; relative paths in it are kept as written and resolved by the planner. */
export function parseManifest(text: string, opts: { baseDir: string; file?: string }): LabManifest {
  const doc = parseYaml(text, opts.file);
  const r = manifestSchema.safeParse(doc);
  if (!r.success) throw issueError(r.error.issues[0]!, doc, opts.file);
  return toManifest(r.data, opts);
}

function parseYaml(text: string, file: string | undefined): unknown {
  // merge: `<<: *anchor` lets a manifest share node blocks, which labs do a lot.
  const doc = parseDocument(text, { merge: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
    throw manifestError(file, "", `${where}${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (value === null || value === undefined) throw manifestError(file, "", "the manifest is empty");
  return value;
}

function issueError(issue: z.ZodIssue, doc: unknown, file: string | undefined) {
  const path = issue.path;
  const value = valueAt(doc, path);
  switch (issue.code) {
    case z.ZodIssueCode.unrecognized_keys:
      return manifestError(file, [...path, issue.keys[0]!], `unknown key${issue.message ? `; ${issue.message}` : ""}`);
    case z.ZodIssueCode.invalid_type:
      return manifestError(file, path, value === undefined ? v.MISSING : `expected ${describe(issue.expected)}, got ${show(value)}`);
    case z.ZodIssueCode.too_small:
    case z.ZodIssueCode.too_big:
      return manifestError(file, path, `${issue.message}, got ${show(value)}`);
    default:
      return manifestError(file, path, issue.message);
  }
}

function valueAt(doc: unknown, path: FieldPath): unknown {
  let cur = doc;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

const TYPE_NAMES: Record<string, string> = { object: "a mapping", array: "a list", string: "a string", number: "a number", boolean: "true or false" };
const describe = (t: string) => TYPE_NAMES[t] ?? t;

/** "did you mean "memory"?" when a known key is within two edits, else the list of known keys. */
function suggest(key: string, known: string[]): string {
  const near = known.map((k) => [k, editDistance(key.toLowerCase(), k)] as const).filter(([, d]) => d <= 2).sort((a, b) => a[1] - b[1])[0];
  return near ? `did you mean ${show(near[0])}?` : `known keys: ${known.join(", ")}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

// ---- raw (kebab-case keys) -> LabManifest -------------------------------------------------------

function toManifest(raw: RawManifest, opts: { baseDir: string; file?: string }): LabManifest {
  return {
    name: raw.name,
    mgmt: compact({ ipv4Subnet: raw.mgmt?.["ipv4-subnet"], ipv6Subnet: raw.mgmt?.["ipv6-subnet"] }),
    defaults: toNodeSpec(raw.defaults ?? {}),
    nodes: Object.fromEntries(Object.entries(raw.nodes).map(([k, n]) => [k, toNodeSpec(n)])),
    links: (raw.links ?? []).map((l) => compact({ endpoints: l.endpoints as [EndpointSpec, EndpointSpec], mtu: l.mtu })),
    bridges: (raw.bridges ?? []).map((b) => compact({ name: b.name, endpoints: b.endpoints, mtu: b.mtu })),
    baseDir: resolve(opts.baseDir),
    ...(opts.file ? { file: opts.file } : {}),
  };
}

function toNodeSpec(n: Partial<RawNode>): NodeSpec {
  return compact({
    model: n.model,
    image: n.image,
    mgmtIpv4: n["mgmt-ipv4"],
    mgmtIpv6: n["mgmt-ipv6"],
    cpus: n.cpus,
    memory: n.memory,
    dataInterfaces: n["data-interfaces"],
    privileged: n.privileged,
    env: n.env,
    cmd: n.cmd,
    entrypoint: n.entrypoint,
    user: n.user,
    shmSize: n["shm-size"],
    sysctls: n.sysctls,
    capAdd: n["cap-add"],
    files: n.files?.map((f) => compact({ ...f })),
    startupConfig: n["startup-config"],
    binds: n.binds,
    exec: n.exec,
  });
}

/** Drop undefined fields, so a spec holds only what the manifest said (and compares cleanly). */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
}
