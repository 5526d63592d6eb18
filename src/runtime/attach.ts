import { spawn } from "node:child_process";
import { constants, existsSync, promises as fsp } from "node:fs";
import type { Readable } from "node:stream";
import type { ContainerPaths } from "./layout.js";

async function waitForPath(path: string, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    if (existsSync(path)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/**
 * Relay stdin to the container through conmon's attach socket. The socket is SOCK_SEQPACKET, which Node
 * cannot open, so socat carries the bytes; output is read from the log file instead of the socket (it has
 * the same bytes, already split into stdout and stderr), and socat's copy is drained and dropped so conmon
 * never blocks on a full socket. End of input closes the container's stdin, as `docker run -i` does.
 */
export async function attachStdin(p: ContainerPaths, input: Readable, signal: AbortSignal, exited: Promise<number>): Promise<void> {
  if (!(await waitForPath(p.attach, signal))) return;
  const socat = spawn("socat", ["-b", "65536", "-t", "0.2", "-", `UNIX-CONNECT:${p.attach},type=5`], { stdio: ["pipe", "pipe", "ignore"] });
  socat.stdout!.resume();
  socat.stdin!.on("error", () => undefined);
  input.pipe(socat.stdin!);
  const stop = () => {
    input.unpipe(socat.stdin!);
    socat.kill("SIGTERM");
  };
  signal.addEventListener("abort", stop, { once: true });
  void exited.then(stop, stop);
  await new Promise<void>((resolve) => socat.on("close", () => resolve()));
  input.unpipe(socat.stdin!);
  // Let the CLI exit although stdin (a TTY or a pipe) is still open.
  if ("pause" in input) input.pause();
}

/** Tell conmon the terminal size (its ctl fifo: "1 rows cols"), now and on every resize. */
export async function resizeTerminal(
  p: ContainerPaths,
  tty: { columns: number; rows: number; onResize?: (cb: (size: { columns: number; rows: number }) => void) => void },
  signal: AbortSignal,
): Promise<void> {
  if (!(await waitForPath(p.ctl, signal))) return;
  const send = async (s: { columns: number; rows: number }) => {
    if (signal.aborted) return;
    // O_NONBLOCK: never hang when the monitor is gone; conmon keeps the fifo open for reading.
    const fh = await fsp.open(p.ctl, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
    if (!fh) return;
    await fh.write(`1 ${s.rows} ${s.columns}\n`).catch(() => undefined);
    await fh.close();
  };
  await send(tty);
  tty.onResize?.((s) => void send(s));
}
