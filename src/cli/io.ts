import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { invalid } from "../core/errors.js";

/** Open FILE for reading (or stdin for "-"), failing with a one-line error before any work starts. */
export async function openInput(file: string | undefined): Promise<Readable> {
  if (!file || file === "-") return process.stdin;
  const s = createReadStream(file);
  await new Promise<void>((res, rej) => {
    s.once("open", () => res());
    s.once("error", (e: Error) => rej(invalid(`cannot read ${file}: ${e.message}`)));
  });
  return s;
}
