import { internal } from "../core/errors.js";
import type { ContainersApi } from "./container-types.js";

const todo = (what: string) => async (): Promise<never> => {
  throw internal(`${what} is not implemented yet`);
};

/** Placeholder until the runtime lands; the real implementation replaces this file. */
export function createContainers(): ContainersApi {
  return {
    create: todo("create"), start: todo("start"), attach: todo("attach"), stop: todo("stop"), kill: todo("kill"),
    restart: todo("restart"), pause: todo("pause"), unpause: todo("unpause"), remove: todo("remove"), list: todo("list"),
    inspect: todo("inspect"), logs: todo("logs"), wait: todo("wait"), exec: todo("exec"), top: todo("top"), stats: todo("stats"),
    rename: todo("rename"), update: todo("update"), cleanup: todo("cleanup"), boot: todo("boot"), prune: todo("prune"),
  };
}
