import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** bin/berth in this checkout (tests run from dist/test/...). */
export const BERTH = resolve(import.meta.dirname, "../../../bin/berth");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private --root/--runroot pair for one test, removed by cleanup(). */
export class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "berth-it-"));
  readonly root = join(this.dir, "root");
  readonly runroot = join(this.dir, "run");

  args(a: string[]): string[] {
    return ["--root", this.root, "--runroot", this.runroot, ...a];
  }

  run(a: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Run {
    const r = spawnSync(BERTH, this.args(a), { input: opts.input ?? "", env: { ...process.env, ...opts.env }, encoding: "utf8", maxBuffer: 256 << 20 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Run and insist on success; the error shows berth's stderr. */
  ok(a: string[], opts: { input?: string | Buffer } = {}): string {
    const r = this.run(a, opts);
    if (r.code !== 0) throw new Error(`berth ${a.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** For tests whose servers live in this process (a token server): spawnSync would starve them. */
  async okAsync(a: string[]): Promise<string> {
    const r = await this.runAsync(a);
    if (r.code !== 0) throw new Error(`berth ${a.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  async runAsync(a: string[], input = ""): Promise<Run> {
    return new Promise((res) => {
      const p = spawn(BERTH, this.args(a));
      p.stdin.end(input);
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.on("close", (code) => res({ code: code ?? -1, stdout, stderr }));
    });
  }

  snapshotDirs(): string[] {
    const d = join(this.root, "snapshots");
    return existsSync(d) ? readdirSync(d) : [];
  }

  blobs(): string[] {
    const d = join(this.root, "content", "blobs", "sha256");
    return existsSync(d) ? readdirSync(d) : [];
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
