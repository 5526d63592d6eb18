import { promises as fsp, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { unavailable } from "../core/errors.js";

/** conmon's exit file: the exit code as text; its mtime is when the container exited. */
export async function readExitFile(path: string): Promise<{ code: number; at: number } | undefined> {
  try {
    const [text, st] = await Promise.all([fsp.readFile(path, "utf8"), fsp.stat(path)]);
    const code = Number.parseInt(text.trim(), 10);
    return Number.isFinite(code) ? { code, at: st.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolve with the exit code once conmon writes the exit file (inotify on the exits dir, with a poll as a
 * backstop). `fallback` is asked on each poll and may answer when the file will never come (the container
 * was removed, or another process recorded the exit). Rejects after `timeoutMs` or on abort.
 */
export async function waitForExitFile(path: string, signal?: AbortSignal, fallback?: () => Promise<number | undefined>, timeoutMs?: number): Promise<number> {
  const dir = dirname(path);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const name = basename(path);
  return new Promise<number>((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    let poll: NodeJS.Timeout | undefined;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (err: Error | null, code?: number) => {
      if (done) return;
      done = true;
      watcher?.close();
      clearInterval(poll);
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(code!);
    };
    const check = async () => {
      const e = await readExitFile(path);
      if (e) return finish(null, e.code);
      if (fallback) {
        const c = await fallback().catch(() => undefined);
        if (c !== undefined) finish(null, c);
      }
    };
    const onAbort = () => finish(unavailable("interrupted"));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      watcher = watch(dir, (_ev, f) => {
        if (!f || f === name) void readExitFile(path).then((e) => e && finish(null, e.code));
      });
    } catch {
      /* the poll still works */
    }
    poll = setInterval(() => void check(), 250);
    if (timeoutMs !== undefined) timer = setTimeout(() => finish(unavailable(`timed out after ${timeoutMs} ms`)), timeoutMs);
    void check();
  });
}
