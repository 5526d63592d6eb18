/**
 * One node's settings from its layers. Precedence, most specific first: the node, the manifest's
 * `defaults`, the model, berth's built-ins. Scalars take the first layer that sets them; maps (env,
 * sysctls) merge key by key; cap-add is the union; exec lines run defaults' first, then the node's;
 * binds are defaults' then the node's, a node bind replacing a default one on the same container path;
 * files are the model's, then defaults', then the startup-config, then the node's, a later file replacing
 * an earlier one with the same destination (so a node can replace the model's FRR daemons file).
 */
import { isAbsolute, resolve } from "node:path";
import { BerthError } from "../core/errors.js";
import { parseReference } from "../core/reference.js";
import { normalizeCapability } from "../core/spec/capabilities.js";
import type { FileSpec, LabManifest, NodeSpec } from "./manifest.js";
import { show, type Fail, type FieldPath } from "./manifest-error.js";
import { checkNaming } from "./interfaces.js";
import { DEFAULT_MODEL, getModel } from "./models.js";
import { containerName, MAX_CONTAINER_NAME } from "./names.js";
import type { LabModel, NodePlan, PlannedFile } from "./types.js";

/** A node's plan before its interfaces are known, with the model it was planned from. */
export interface NodeDraft {
  plan: Omit<NodePlan, "interfaces">;
  model: LabModel;
  /** Interfaces to create even when unwired (from the node, defaults or model). */
  dataInterfaces: number;
}

const KEBAB: Partial<Record<keyof NodeSpec, string>> = {
  mgmtIpv4: "mgmt-ipv4",
  mgmtIpv6: "mgmt-ipv6",
  dataInterfaces: "data-interfaces",
  shmSize: "shm-size",
  capAdd: "cap-add",
  startupConfig: "startup-config",
};

/** Resolves a node's layers; `origin` says which layer set a key, so errors point at the line to fix. */
class Layers {
  constructor(
    readonly name: string,
    readonly node: NodeSpec,
    readonly defaults: NodeSpec,
  ) {}

  pick<K extends keyof NodeSpec>(key: K): NodeSpec[K] {
    return this.node[key] !== undefined ? this.node[key] : this.defaults[key];
  }

  origin(key: keyof NodeSpec): string[] {
    const k = KEBAB[key] ?? key;
    return this.node[key] !== undefined ? ["nodes", this.name, k] : ["defaults", k];
  }

  nodePath(key: keyof NodeSpec): string[] {
    return ["nodes", this.name, KEBAB[key] ?? key];
  }
}

export function planNode(m: LabManifest, name: string, models: Readonly<Record<string, LabModel>>, fail: Fail): NodeDraft {
  const l = new Layers(name, m.nodes[name]!, m.defaults);
  const model = modelOf(l, models, fail);
  const container = containerName(m.name, name);
  if (container.length > MAX_CONTAINER_NAME) fail(["nodes", name], `container name ${JSON.stringify(container)} is longer than ${MAX_CONTAINER_NAME} characters (it is also the node's hostname); shorten the lab or node name`);
  const plan: Omit<NodePlan, "interfaces"> = {
    name,
    container,
    model: model.name,
    image: imageOf(l, model, fail),
    mgmtInterface: model.mgmtInterface,
    ...optional("cpus", l.pick("cpus") ?? model.cpus),
    ...optional("memory", l.pick("memory") ?? model.memory),
    privileged: l.pick("privileged") ?? model.privileged,
    env: Object.entries({ ...model.env, ...m.defaults.env, ...l.node.env }).map(([k, v]) => `${k}=${v}`),
    ...optional("cmd", commandOf(l.pick("cmd") ?? model.cmd)),
    ...optional("entrypoint", commandOf(l.pick("entrypoint") ?? model.entrypoint)),
    ...optional("user", l.pick("user")),
    ...optional("shmSize", l.pick("shmSize")),
    sysctls: { ...model.sysctls, ...m.defaults.sysctls, ...l.node.sysctls },
    capAdd: capabilitiesOf(l, model, fail),
    files: filesOf(l, model, m.baseDir, fail),
    binds: bindsOf(l, m.baseDir),
    exec: [...(m.defaults.exec ?? []), ...(l.node.exec ?? [])],
  };
  return { plan, model, dataInterfaces: dataInterfacesOf(l, model, fail) };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function modelOf(l: Layers, models: Readonly<Record<string, LabModel>>, fail: Fail): LabModel {
  const name = l.pick("model") ?? DEFAULT_MODEL;
  let model: LabModel;
  try {
    model = getModel(name, models);
  } catch (e) {
    return fail(l.origin("model"), (e as Error).message.replace(/^unknown lab model/, "unknown model"));
  }
  checkNaming(model);
  return model;
}

/** Checked now so that a typo fails before anything is pulled or built. */
function imageOf(l: Layers, model: LabModel, fail: Fail): string {
  const image = l.pick("image");
  if (image === undefined) return model.image;
  try {
    parseReference(image);
  } catch (e) {
    fail(l.origin("image"), e instanceof BerthError ? e.message.replace(/^invalid reference/, "invalid image reference") : String(e));
  }
  return image;
}

/** An empty command means "the image's own": the only way to drop a model's default command. */
const commandOf = (cmd: string[] | undefined): string[] | undefined => (cmd && cmd.length > 0 ? [...cmd] : undefined);

function dataInterfacesOf(l: Layers, model: LabModel, fail: Fail): number {
  const n = l.pick("dataInterfaces") ?? model.dataInterfaces;
  if (n > model.maxDataInterfaces) fail(l.origin("dataInterfaces"), `${n} is more than model ${model.name} has (at most ${model.maxDataInterfaces})`);
  return n;
}

/** Canonical CAP_ names, model's first, each once; an unknown name is refused at its list position. */
function capabilitiesOf(l: Layers, model: LabModel, fail: Fail): string[] {
  const out = new Set<string>(model.capAdd.map((c) => normalizeCapability(c)));
  const layers: [FieldPath, string[] | undefined][] = [
    [["defaults", "cap-add"], l.defaults.capAdd],
    [l.nodePath("capAdd"), l.node.capAdd],
  ];
  for (const [path, caps] of layers) {
    (caps ?? []).forEach((c, i) => {
      try {
        out.add(normalizeCapability(c));
      } catch {
        fail([...path, i], `unknown capability ${show(c)}`);
      }
    });
  }
  return [...out];
}

const hostPath = (baseDir: string, p: string): string => (isAbsolute(p) ? resolve(p) : resolve(baseDir, p));
const destKey = (d: string): string => d.replace(/\/+$/, "");

function filesOf(l: Layers, model: LabModel, baseDir: string, fail: Fail): PlannedFile[] {
  const byDest = new Map<string, PlannedFile>();
  const put = (f: PlannedFile) => {
    byDest.delete(destKey(f.destination));
    byDest.set(destKey(f.destination), f);
  };
  for (const f of model.files) put({ ...f });
  for (const f of l.defaults.files ?? []) put(manifestFile(f, baseDir));
  const sc = startupConfigOf(l, model, baseDir, fail);
  if (sc) put(sc);
  for (const f of l.node.files ?? []) put(manifestFile(f, baseDir));
  return [...byDest.values()];
}

function manifestFile(f: FileSpec, baseDir: string): PlannedFile {
  return { ...f, source: hostPath(baseDir, f.source) };
}

function startupConfigOf(l: Layers, model: LabModel, baseDir: string, fail: Fail): PlannedFile | undefined {
  const source = l.pick("startupConfig");
  if (source === undefined) return undefined;
  if (!model.startupConfig) return fail(l.origin("startupConfig"), `model ${model.name} has no startup-config location; inject ${show(source)} with files and a destination`);
  return { source: hostPath(baseDir, source), ...model.startupConfig };
}

/** "HOST:CTR[:OPTS]" with HOST absolute; a node's bind replaces a default's on the same container path. */
function bindsOf(l: Layers, baseDir: string): string[] {
  const byDest = new Map<string, string>();
  for (const b of [...(l.defaults.binds ?? []), ...(l.node.binds ?? [])]) {
    const [host, dest, opts] = b.split(":") as [string, string, string | undefined];
    byDest.delete(destKey(dest));
    byDest.set(destKey(dest), [hostPath(baseDir, host), dest, ...(opts ? [opts] : [])].join(":"));
  }
  return [...byDest.values()];
}
