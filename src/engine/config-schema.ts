import { parse } from "yaml";
import { z } from "zod";
import { invalid } from "../core/errors.js";
import type { BerthConfig } from "./config.js";

/** Unknown keys are rejected so that a typo does not silently do nothing. */
const configSchema = z
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
    network: z
      .object({ default: z.string().optional(), defaultBridge: z.string().optional(), nftTable: z.string().optional() })
      .strict()
      .optional(),
  })
  .strict();

export function parseConfig(text: string, file: string): BerthConfig {
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
