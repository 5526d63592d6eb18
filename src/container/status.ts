import type { RestartPolicy } from "../core/spec/types.js";
import type { ContainerRecord, StoredState } from "./store.js";

/** What berth can see of a container that its row says is alive. */
export interface Observation {
  /** Content of conmon's exit file, when present. */
  exitCode?: number;
  /** When the exit file was written (ms). */
  exitedAt?: number;
  oom?: boolean;
  conmonAlive: boolean;
  /** The process starting the container, or a cleanup process sleeping out a restart back-off. */
  monitorAlive: boolean;
  /** The runtime's answer; asked only when conmon is gone without an exit file. */
  runtime?: "creating" | "created" | "running" | "paused" | "stopped" | null;
  /** The host rebooted since the container started. */
  rebooted: boolean;
}

export interface Verdict {
  state: StoredState;
  /** The row is stale: record the exit (and tear down what the exit command would have). */
  exited?: { exitCode: number; finishedAt: number; oomKilled: boolean; error: string };
}

/** Exit code Docker reports when the real one is lost (monitor killed, host rebooted). */
export const LOST_EXIT_CODE = 255;

/**
 * The runtime is the truth for "is it running"; the row records what berth last saw. A live conmon means
 * the container is still monitored; its exit file means it exited; neither means someone killed the
 * monitor (ask the runtime) or the host rebooted (nothing survived).
 */
export function reconcile(rec: ContainerRecord, o: Observation, now: number): Verdict {
  if (rec.state === "created" || rec.state === "exited") return { state: rec.state };
  if (rec.state === "restarting") {
    if (o.monitorAlive && !o.rebooted) return { state: "restarting" };
    return { state: "exited" };
  }
  if (o.rebooted) return { state: "exited", exited: { exitCode: LOST_EXIT_CODE, finishedAt: now, oomKilled: false, error: "the host rebooted while the container ran" } };
  if (o.exitCode !== undefined) return { state: "exited", exited: { exitCode: o.exitCode, finishedAt: o.exitedAt ?? now, oomKilled: !!o.oom, error: "" } };
  if (o.conmonAlive) return { state: rec.state };
  // Between "marked running" and "conmon is up", the starting process is the monitor.
  if (!rec.conmonPid && o.monitorAlive) return { state: rec.state };
  if (o.runtime === "running" || o.runtime === "paused") return { state: o.runtime };
  return { state: "exited", exited: { exitCode: LOST_EXIT_CODE, finishedAt: now, oomKilled: !!o.oom, error: "the container's monitor (conmon) was killed" } };
}

/** Docker's restart rules; the delay doubles from 100 ms per consecutive quick failure, capped at a minute. */
export function restartDecision(policy: RestartPolicy | undefined, rec: Pick<ContainerRecord, "restartCount" | "stoppedByUser" | "startedAt">, exitCode: number, exitedAt: number): { restart: boolean; delayMs: number } {
  const no = { restart: false, delayMs: 0 };
  if (!policy || policy.name === "no" || rec.stoppedByUser) return no;
  if (policy.name === "on-failure") {
    if (exitCode === 0) return no;
    if (policy.maximumRetryCount > 0 && rec.restartCount >= policy.maximumRetryCount) return no;
  }
  const ranLong = exitedAt - rec.startedAt >= 10_000;
  const delayMs = ranLong ? 100 : Math.min(100 * 2 ** Math.min(rec.restartCount, 20), 60_000);
  return { restart: true, delayMs };
}

/** Docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(m / 60);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** The STATUS column of `ps`. */
export function statusText(state: StoredState, rec: Pick<ContainerRecord, "exitCode" | "startedAt" | "finishedAt">, now: number): string {
  switch (state) {
    case "created":
      return "Created";
    case "running":
      return `Up ${humanDuration(now - rec.startedAt)}`;
    case "paused":
      return `Up ${humanDuration(now - rec.startedAt)} (Paused)`;
    case "restarting":
      return `Restarting (${rec.exitCode}) ${humanDuration(now - rec.finishedAt)} ago`;
    case "exited":
      return rec.finishedAt ? `Exited (${rec.exitCode}) ${humanDuration(now - rec.finishedAt)} ago` : "Exited";
  }
}
