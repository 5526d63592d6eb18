import { invalid } from "../core/errors.js";

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Ask on the terminal; a secret is read in raw mode so it is never echoed. */
export async function readSecret(prompt: string, echo: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw invalid(`${prompt.replace(/: $/, "").toLowerCase()} required: pass it as a flag or use --password-stdin`);
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let value = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            return resolve();
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            return reject(invalid("interrupted"));
          }
          if (ch === "\u007f") value = value.slice(0, -1);
          else {
            value += ch;
            if (echo) process.stderr.write(ch);
          }
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
  return value;
}
