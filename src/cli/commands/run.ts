import type { Command } from "commander";
import type { ContainersApi } from "../../engine/container-types.js";
import { toContainerOptions, withContainerFlags } from "../container-flags.js";
import { engineFor } from "../context.js";
import { createContainer, type CreateFlags } from "./create.js";

export interface AttachFlags {
  interactive: boolean;
  tty: boolean;
  /** Docker's --sig-proxy; never applies with a TTY, where the terminal delivers ^C to the container. */
  sigProxy: boolean;
}

const PROXIED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR2"];

/**
 * Attach this terminal to the container, then start it (attaching first so no output is missed); resolves
 * to the container's exit code. The terminal is raw while an interactive TTY session runs, and restored after.
 */
export async function attachAndStart(containers: ContainersApi, id: string, f: AttachFlags, start: () => Promise<void>): Promise<number> {
  const { stdin, stdout, stderr } = process;
  const raw = f.tty && f.interactive && stdin.isTTY;
  const abort = new AbortController();
  const onResize: (() => void)[] = [];
  const tty = f.tty && stdout.isTTY
    ? {
        columns: stdout.columns,
        rows: stdout.rows,
        onResize: (cb: (size: { columns: number; rows: number }) => void) => {
          const l = () => cb({ columns: stdout.columns, rows: stdout.rows });
          onResize.push(l);
          stdout.on("resize", l);
        },
      }
    : undefined;
  const forward = (sig: NodeJS.Signals) => void containers.kill(id, sig).catch(() => {});
  const signals = f.sigProxy && !f.tty ? PROXIED : [];
  for (const s of signals) process.on(s, forward);
  if (raw) stdin.setRawMode(true);
  try {
    const attached = containers.attach(id, { ...(f.interactive ? { stdin } : {}), stdout, stderr, ...(tty ? { tty } : {}), signal: abort.signal });
    attached.catch(() => {}); // observed below; a failed start must not leave it unhandled
    await start();
    return await attached;
  } finally {
    abort.abort();
    if (raw) stdin.setRawMode(false);
    for (const s of signals) process.off(s, forward);
    for (const l of onResize) stdout.off("resize", l);
    if (f.interactive) {
      stdin.unpipe();
      stdin.pause();
    }
  }
}

export function register(parent: Command, name = "run"): void {
  withContainerFlags(parent.command(`${name} <image> [command...]`), true)
    .description("Create and start a container; in the foreground, exit with its exit code")
    .passThroughOptions()
    .action(async (image: string, args: string[], o: CreateFlags & { detach?: boolean; sigProxy?: boolean }, cmd: Command) => {
      const options = toContainerOptions(image, args, o);
      const engine = await engineFor(cmd);
      const id = await createContainer(engine, options, o);
      // A run whose start fails leaves nothing behind (Docker would keep a Created container).
      const start = async () => {
        try {
          await engine.containers.start(id);
        } catch (e) {
          await engine.containers.remove(id, { force: true }).catch(() => undefined);
          throw e;
        }
      };
      if (o.detach) {
        await start();
        process.stdout.write(`${id}\n`);
        return;
      }
      const flags = { interactive: !!o.interactive, tty: !!o.tty, sigProxy: o.sigProxy ?? true };
      process.exitCode = await attachAndStart(engine.containers, id, flags, start);
    });
}
