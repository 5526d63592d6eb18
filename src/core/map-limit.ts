/**
 * Run `fn` over `items` with at most `limit` calls in flight. The first failure stops new calls from
 * starting (those in flight finish) and is thrown once all have settled, so callers can roll back
 * knowing nothing is still running.
 */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/** Like mapLimit, but every item runs; returns the errors by index (a lab's down/destroy must try every node). */
export async function settleLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<Map<number, unknown>> {
  const errors = new Map<number, unknown>();
  await mapLimit(items, limit, (item, i) => fn(item, i).catch((e: unknown) => void errors.set(i, e)));
  return errors;
}
