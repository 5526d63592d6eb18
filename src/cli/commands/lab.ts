import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { Option, type Command } from "commander";
import { invalid, notFound, unavailable } from "../../core/errors.js";
import type { LabEvent, Labs, LabView } from "../../engine/labs.js";
import { engineFor } from "../context.js";
import { table } from "../format.js";
import { labRenderer } from "../lab-progress.js";

/** The table `up`, `resume`, `redeploy` and `inspect` end with. */
function render(v: LabView): string {
  const rows = v.nodes.map((n) => [
    n.name,
    n.model,
    n.image,
    n.state,
    n.mgmtIpv4 ?? "",
    n.mgmtIpv6 ?? "",
    n.interfaces.map((i) => (i.peer ? `${i.name}->${i.peer}` : `${i.name}(down)`)).join(" "),
  ]);
  const head = `lab ${v.name} (${v.state})  mgmt ${v.mgmt.network}: ${[v.mgmt.ipv4Subnet, v.mgmt.ipv6Subnet].filter(Boolean).join(" ")}\n`;
  const warn = v.warnings.map((w) => `warning: ${w}\n`).join("");
  return head + table(["NODE", "MODEL", "IMAGE", "STATE", "IPV4", "IPV6", "INTERFACES"], rows) + warn;
}

type Format = { format?: string; quiet?: boolean };

const show = (v: LabView, o: Format) => process.stdout.write(o.format === "json" ? JSON.stringify(v, null, 2) + "\n" : render(v));

const formatOption = () => new Option("--format <format>", "table or json").choices(["table", "json"]).default("table");

export function register(group: Command, want: (name: string) => boolean = () => true): void {
  const progress = async <T>(o: Format, fn: (onEvent: ReturnType<typeof labRenderer>["onEvent"]) => Promise<T>): Promise<T> => {
    // Progress goes to stderr, so `--format json` output on stdout stays parseable.
    const r = labRenderer(process.stderr, !!o.quiet || o.format === "json");
    try {
      return await fn((e) => r.onEvent(e));
    } finally {
      r.stop();
    }
  };

  // up, down, resume and redeploy share their flags and their output: progress, then the lab's table.
  const lifecycle = (verb: string, description: string, fn: (labs: Labs, args: string[], onEvent: (e: LabEvent) => void) => Promise<LabView>) =>
    group
      .command(verb)
      .description(description)
      .option("-q, --quiet", "no progress")
      .addOption(formatOption())
      .action(async (...a: unknown[]) => {
        const cmd = a[a.length - 1] as Command;
        const o = a[a.length - 2] as Format;
        const args = a.slice(0, -2).flat() as string[];
        const { labs } = await engineFor(cmd);
        show(await progress(o, (onEvent) => fn(labs, args, onEvent)), o);
      });

  if (want("up") || want("deploy")) lifecycle("up <manifest>", "Deploy a lab from a YAML manifest", (labs, [file], onEvent) => labs.up(file!, { onEvent })).alias("deploy");
  if (want("down")) lifecycle("down <lab>", "Stop every node; links and addresses stay for resume", (labs, [name], onEvent) => labs.down(name!, { onEvent }));
  if (want("resume")) lifecycle("resume <lab>", "Start a stopped lab's nodes again, with their links, and re-run their exec lines", (labs, [name], onEvent) => labs.resume(name!, { onEvent }));
  if (want("redeploy"))
    lifecycle("redeploy <lab> [nodes...]", "Recreate nodes (all by default) with fresh files and their links", (labs, [name, ...nodes], onEvent) => labs.redeploy(name!, nodes, { onEvent }));

  if (want("destroy"))
    group
      .command("destroy <lab...>")
      .description("Remove labs: nodes, links, bridges, netns, management network, files and state")
      .option("-q, --quiet", "no progress")
      .action(async (names: string[], o: Format, cmd: Command) => {
        const { labs } = await engineFor(cmd);
        for (const name of names) {
          await progress(o, (onEvent) => labs.destroy(name, { onEvent }));
          process.stdout.write(`${name}\n`);
        }
      });

  if (want("ls"))
    group
      .command("ls")
      .alias("list")
      .description("List labs")
      .addOption(formatOption())
      .action(async (o: Format, cmd: Command) => {
        const { labs } = await engineFor(cmd);
        const list = labs.list();
        if (o.format === "json") process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        else process.stdout.write(table(["NAME", "STATE", "NODES", "MANIFEST"], list.map((l) => [l.name, l.state, String(l.nodes), l.manifest])));
      });

  if (want("inspect"))
    group
      .command("inspect <lab>")
      .description("Show a lab's nodes, state, management addresses and interfaces")
      .addOption(formatOption())
      .action(async (name: string, o: Format, cmd: Command) => {
        const { labs } = await engineFor(cmd);
        show(await labs.inspect(name), o);
      });

  if (want("exec"))
    group
      .command("exec <lab> <node> <command...>")
      .description("Run a command in a node (berth lab exec LAB NODE -- CMD)")
      .option("-i, --interactive", "keep STDIN open")
      .option("-t, --tty", "allocate a pseudo-TTY")
      .passThroughOptions()
      .action(async (name: string, node: string, args: string[], o: { interactive?: boolean; tty?: boolean }, cmd: Command) => {
        const { labs } = await engineFor(cmd);
        const raw = !!o.tty && !!o.interactive && process.stdin.isTTY;
        if (raw) process.stdin.setRawMode(true);
        try {
          process.exitCode = await labs.exec(name, node, args, "inherit", { tty: !!o.tty, interactive: !!o.interactive });
        } finally {
          if (raw) process.stdin.setRawMode(false);
        }
      });

  if (want("ssh"))
    group
      .command("ssh <lab> <node> [command...]")
      .description("ssh to a node's management address with the lab's ssh config (berth lab ssh LAB NODE [-- CMD])")
      .option("-i, --identity <file>", "private key to log in with (only this one is offered)")
      .option("-l, --login <user>", "user to log in as (default root)")
      .passThroughOptions()
      .action(async (name: string, node: string, args: string[], o: { identity?: string; login?: string }, cmd: Command) => {
        const { labs } = await engineFor(cmd);
        labs.nodeOf(name, node);
        const config = labs.sshConfigPath(name);
        if (!existsSync(config)) throw invalid(`lab ${name} has no ssh config yet (is it deployed?)`);
        if (o.identity && !existsSync(o.identity)) throw notFound(`identity file ${o.identity} does not exist`);
        const id = o.identity ? ["-i", o.identity, "-o", "IdentitiesOnly=yes"] : [];
        const login = o.login ? ["-l", o.login] : [];
        // "--" ends ssh's own options too: what follows the node is the remote command.
        const child = spawn("ssh", ["-F", config, ...id, ...login, node, ...(args[0] === "--" ? args.slice(1) : args)], { stdio: "inherit" });
        process.exitCode = await new Promise<number>((res, rej) => {
          child.on("error", (e) => rej(unavailable(`cannot run ssh: ${e.message} (install openssh-client)`)));
          child.on("exit", (code, sig) => res(code ?? (sig ? 128 : 1)));
        });
      });

  if (want("graph"))
    group
      .command("graph <lab>")
      .description("Print the lab's topology as a Mermaid or Graphviz graph")
      .addOption(new Option("--format <format>", "mermaid or dot").choices(["mermaid", "dot"]).default("mermaid"))
      .action(async (name: string, o: { format: "mermaid" | "dot" }, cmd: Command) => {
        const { labs } = await engineFor(cmd);
        process.stdout.write(await labs.graph(name, o.format));
      });
}
