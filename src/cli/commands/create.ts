import type { Command } from "commander";
import type { ContainerOptions } from "../../core/spec/types.js";
import type { Engine } from "../../engine/engine.js";
import type { PullEvent } from "../../image/pull.js";
import { toContainerOptions, withContainerFlags, type ContainerFlagValues } from "../container-flags.js";
import { engineFor, registryAccess } from "../context.js";
import type { PullRenderer } from "../progress.js";

export type CreateFlags = ContainerFlagValues & { pull: "missing" | "always" | "never"; quiet?: boolean; tlsVerify?: boolean; certDir?: string; authfile?: string; creds?: string };

/** Create the container, pulling the image when the policy says so with progress on stderr (as `docker run` shows it). */
export async function createContainer(engine: Engine, options: ContainerOptions, o: CreateFlags): Promise<string> {
  const { pullRenderer } = await import("../progress.js");
  // Made on the first pull event only: a terminal renderer writes cursor codes even when it shows nothing.
  let renderer: PullRenderer | undefined;
  try {
    const r = await engine.containers.create(options, {
      ...registryAccess(o),
      pull: o.pull,
      onPullEvent: (e) => {
        if (!renderer && !o.quiet && o.pull === "missing") process.stderr.write(`Unable to find image '${options.image}' locally\n`);
        renderer ??= pullRenderer(process.stderr, !!o.quiet);
        renderer.onEvent(e as PullEvent);
      },
    });
    for (const w of r.warnings) process.stderr.write(`WARNING: ${w}\n`);
    return r.id;
  } finally {
    renderer?.stop();
  }
}

export function register(parent: Command, name = "create"): void {
  withContainerFlags(parent.command(`${name} <image> [command...]`), false)
    .description("Create a container without starting it; prints its ID")
    .passThroughOptions()
    .action(async (image: string, args: string[], o: CreateFlags, cmd: Command) => {
      const options = toContainerOptions(image, args, o);
      const engine = await engineFor(cmd);
      process.stdout.write(`${await createContainer(engine, options, o)}\n`);
    });
}
