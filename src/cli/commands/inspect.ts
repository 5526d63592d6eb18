import { Option, type Command } from "commander";
import { BerthError, notFound } from "../../core/errors.js";
import { engineFor } from "../context.js";
import { inspectEach } from "./image-inspect.js";

const isNotFound = (e: unknown) => e instanceof BerthError && e.code === "NOT_FOUND";

export function register(parent: Command, name = "inspect"): void {
  parent
    .command(`${name} <name...>`)
    .description("Show details of containers or images as JSON (containers are looked up first)")
    .option("-f, --format <template>", "Go-style template, e.g. '{{.State.Status}}' or '{{json .Config}}'")
    .addOption(new Option("--type <type>", "only look for this kind of object").choices(["container", "image"]))
    .action(async (names: string[], o: { format?: string; type?: "container" | "image" }, cmd: Command) => {
      const engine = await engineFor(cmd);
      const find = async (n: string): Promise<unknown> => {
        if (o.type === "image") return engine.images.inspect(n);
        try {
          return await engine.containers.inspect(n);
        } catch (e) {
          if (o.type === "container" || !isNotFound(e)) throw e;
        }
        try {
          return await engine.images.inspect(n);
        } catch (e) {
          throw isNotFound(e) ? notFound(`no such object: ${n}`) : e;
        }
      };
      await inspectEach(names, find, o.format);
    });
}
