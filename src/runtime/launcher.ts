/**
 * A small shell that starts berth's helper processes (ip, nsenter, unshare, runc) during bulk work.
 *
 * Node starts a child by forking its own address space (libuv's fork + exec): at the 100+ MB a lab
 * deploy holds, each child costs 3-5 ms of the event loop and as much kernel time copying page tables,
 * the largest single cost of a 200-node `lab up`. A dash process forks in a tenth of that. So bulk
 * operations hand their commands to one long-lived `sh` reading job lines on stdin: each job runs in the
 * background with its stdio on files, and the shell reports "ID STATUS" on stdout when it ends.
 *
 * What cannot go through it (an argument holding a newline, a custom env or cwd) is spawned directly.
 * BERTH_NO_LAUNCHER=1 turns it off (to compare, or should a host's /bin/sh misbehave).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pidAlive } from "../store/leases.js";
import type { RunResult } from "./exec-file.js";

// The shell reaps each background job as it reads the next line, so none is left a zombie.
const LOOP = 'while IFS= read -r line; do eval "$line"; done';

const PREFIX = "berth-launch-";

/** Job dirs of berth processes that died before closing their launcher (named after their PID). */
function removeOrphans(base: string): void {
  for (const name of readdirSync(base)) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length).split("-")[0]);
    if (!pid || pidAlive(pid)) continue;
    rmSync(join(base, name), { recursive: true, force: true });
  }
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export class Launcher {
  private readonly sh: ChildProcess;
  private readonly dir: string;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (status: number) => void; reject: (e: Error) => void }>();
  private dead: Error | undefined;
  private partial = "";

  constructor() {
    // Job files on tmpfs: on a disk filesystem, creating and deleting thousands of small files costs
    // more kernel time (inode allocation) than the forks this saves.
    const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
    removeOrphans(base);
    this.dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
    this.sh = spawn("/bin/sh", ["-c", LOOP], { stdio: ["pipe", "pipe", "ignore"] });
    this.sh.stdout!.setEncoding("utf8").on("data", (d: string) => this.onOutput(d));
    this.sh.on("error", (e) => this.fail(e));
    this.sh.on("exit", () => this.fail(new Error("the launcher shell exited")));
    this.sh.stdin!.on("error", (e) => this.fail(e));
  }

  /** True when `cmd args` can be run through the shell (one job line). */
  accepts(cmd: string, args: readonly string[]): boolean {
    return !this.dead && ![cmd, ...args].some((a) => a.includes("\n"));
  }

  async run(cmd: string, args: readonly string[], input?: string | Buffer): Promise<RunResult> {
    const id = ++this.seq;
    const f = (ext: string) => join(this.dir, `${id}.${ext}`);
    if (input !== undefined) await writeFile(f("in"), input, { mode: 0o600 });
    const status = await new Promise<number>((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      this.pending.set(id, { resolve, reject });
      const stdin = input === undefined ? "/dev/null" : f("in");
      this.sh.stdin!.write(`{ ${[cmd, ...args].map(quote).join(" ")} <${quote(stdin)} >${quote(f("out"))} 2>${quote(f("err"))}; echo "${id} $?"; } &\n`);
    });
    const [stdout, stderr] = await Promise.all([readFile(f("out"), "utf8").catch(() => ""), readFile(f("err"), "utf8").catch(() => "")]);
    await Promise.all(["in", "out", "err"].map((e) => rm(f(e), { force: true })));
    // Like spawn's ENOENT: the caller sees a missing binary as an error, not as an exit status.
    if (status === 127 && /not found\s*$/.test(stderr)) throw Object.assign(new Error(`spawn ${cmd} ENOENT`), { code: "ENOENT" });
    return { code: status, stdout, stderr };
  }

  private onOutput(d: string): void {
    const lines = (this.partial + d).split("\n");
    this.partial = lines.pop()!;
    for (const l of lines) {
      const [id, status] = l.split(" ").map(Number);
      const job = this.pending.get(id!);
      this.pending.delete(id!);
      job?.resolve(status!);
    }
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    // Jobs it had not reported are lost with it: their callers get its failure.
    for (const job of this.pending.values()) job.reject(e);
    this.pending.clear();
  }

  /** End the shell once its running jobs are done, and remove the job files. */
  async close(): Promise<void> {
    if (!this.dead) {
      const exited = new Promise<void>((r) => this.sh.once("exit", () => r()));
      this.sh.stdin!.end("wait\n");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
