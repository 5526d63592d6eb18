import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import { invalid } from "../core/errors.js";

/** /etc/berth/berth.yaml. Unknown keys are rejected so a typo does not silently do nothing. */
export const configSchema = z
  .object({
    registries: z
      .object({
        insecure: z.array(z.string()).default([]),
        mirrors: z.record(z.array(z.string())).default({}),
      })
      .strict()
      .default({}),
    runtime: z.string().optional(),
    cgroupParent: z.string().optional(),
    mgmtSubnets: z.array(z.string()).optional(),
  })
  .strict();

export type BerthConfig = z.infer<typeof configSchema>;

export const DEFAULT_CONFIG_PATH = "/etc/berth/berth.yaml";

/** Load the config file; a missing default file means defaults, a missing explicit one is an error. */
export function loadConfig(path?: string): BerthConfig {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (!path && (e as NodeJS.ErrnoException).code === "ENOENT") return configSchema.parse({});
    throw invalid(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (e) {
    throw invalid(`config file ${file} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const r = configSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw invalid(`config file ${file}: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  return r.data;
}
