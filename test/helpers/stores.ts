import { join } from "node:path";
import { ImageStore } from "../../src/image/store.js";

/** Fresh image stores under `dir` (root0, root1, ...), all closed by closeAll() in an after hook. */
export function storeFactory(dir: string): { newStore: () => Promise<ImageStore>; closeAll: () => void } {
  const stores: ImageStore[] = [];
  return {
    newStore: async () => {
      const s = await ImageStore.open(join(dir, `root${stores.length}`));
      stores.push(s);
      return s;
    },
    closeAll: () => stores.splice(0).forEach((s) => s.close()),
  };
}
