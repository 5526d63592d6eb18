/**
 * Data interface names: a model's template ("eth{n}", "e1-{n}") gives the name inside the node, its aliases
 * ("ethernet-1/{n}", "Ethernet{n}") are other spellings the manifest may use for the same port.
 */
import { invalid } from "../core/errors.js";
import type { InterfaceNaming, LabModel } from "./types.js";

/** What a manifest spelling of an interface means for a model. */
export type ResolvedInterface =
  | { kind: "data"; index: number; name: string }
  | { kind: "mgmt" }
  | { kind: "unknown" };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/**
 * A template as a regular expression capturing N. Leading zeros are refused so that every index has
 * exactly one spelling per pattern (eth01 would otherwise be a second name of eth1).
 */
function patternOf(template: string): RegExp {
  const [head, tail] = splitTemplate(template);
  return new RegExp(`^${escapeRe(head)}(0|[1-9][0-9]{0,5})${escapeRe(tail)}$`);
}

function splitTemplate(template: string): [string, string] {
  const at = template.indexOf("{n}");
  if (at < 0 || template.indexOf("{n}", at + 1) >= 0) throw new Error(`interface template "${template}" must contain {n} exactly once`);
  return [template.slice(0, at), template.slice(at + 3)];
}

/** The in-node name of data interface N. */
export function interfaceName(naming: InterfaceNaming, index: number): string {
  return naming.template.replace("{n}", String(index));
}

/** All spellings the manifest accepts, for error messages: "e1-N or ethernet-1/N". */
export function spellings(naming: InterfaceNaming): string {
  const all = [naming.template, ...naming.aliases].map((t) => t.replace("{n}", "N"));
  return all.length === 1 ? all[0]! : `${all.slice(0, -1).join(", ")} or ${all[all.length - 1]}`;
}

/** Map a manifest spelling to the node's interface. Index 0 counts as data (the caller refuses it). */
export function resolveInterface(model: LabModel, text: string): ResolvedInterface {
  if (text === model.mgmtInterface) return { kind: "mgmt" };
  for (const t of [model.interfaces.template, ...model.interfaces.aliases]) {
    const m = patternOf(t).exec(text);
    if (m) {
      const index = Number(m[1]);
      return { kind: "data", index, name: interfaceName(model.interfaces, index) };
    }
  }
  return { kind: "unknown" };
}

/** What the kernel accepts as a link name: 1-15 bytes, no "/", ":" or whitespace, not "." or "..". */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * A model's template must give kernel-valid names up to its largest index. Built-in models do; this
 * catches a caller's model (e.g. "ge-0/0/{n}" as the in-node name, where only an alias may have a "/").
 */
export function checkNaming(model: LabModel): void {
  for (const n of [1, model.maxDataInterfaces]) {
    const name = interfaceName(model.interfaces, n);
    if (!IFNAME.test(name) || name === "." || name === "..") throw invalid(`lab model ${model.name}: interface template "${model.interfaces.template}" gives "${name}", not a valid Linux interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
}
