import type { Command } from "commander";
import { collectEnv, processFlagEnv } from "../container-flags.js";
import { engineFor } from "../context.js";

const collect = (v: string, p: string[] = []) => [...p, v];

interface ExecFlags {
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  envFile?: string[];
  user?: string;
  workdir?: string;
  detach?: boolean;
  privileged?: boolean;
}

export function register(parent: Command, name = "exec"): void {
  parent
    .command(`${name} <container> <command...>`)
    .description("Run a command in a running container; exit with its exit code")
    .option("-i, --interactive", "keep STDIN open")
    .option("-t, --tty", "allocate a pseudo-TTY")
    .option("-e, --env <KEY=VALUE>", "set an environment variable", collect)
    .option("--env-file <file>", "read environment variables from a file", collect)
    .option("-u, --user <user[:group]>", "user name or UID")
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("-d, --detach", "run the command in the background")
    .option("--privileged", "give extended privileges to the command")
    .passThroughOptions()
    .action(async (ref: string, args: string[], o: ExecFlags, cmd: Command) => {
      const env = collectEnv(o, processFlagEnv());
      const { containers } = await engineFor(cmd);
      const stdin = process.stdin;
      // The terminal must be raw while an interactive TTY session runs, whoever relays it.
      const raw = !!o.tty && !!o.interactive && !o.detach && stdin.isTTY;
      if (raw) stdin.setRawMode(true);
      try {
        process.exitCode = await containers.exec(ref, {
          cmd: args,
          ...(env.length ? { env } : {}),
          ...(o.user ? { user: o.user } : {}),
          ...(o.workdir ? { workdir: o.workdir } : {}),
          tty: !!o.tty,
          interactive: !!o.interactive,
          detach: !!o.detach,
          privileged: !!o.privileged,
          stdio: "inherit",
        });
      } finally {
        if (raw) stdin.setRawMode(false);
      }
    });
}
