/**
 * Deployed labs in SQLite: one row per lab with the plan it was deployed from. The plan, not the
 * manifest on disk, is what `destroy` and `redeploy` work from: the file may have changed or gone since.
 */
import { conflict, notFound } from "../core/errors.js";
import type { Db } from "../store/db.js";
import type { LabPlan } from "./types.js";

export type LabState = "deploying" | "running" | "down" | "failed";

export interface LabRecord {
  name: string;
  manifest: string;
  plan: LabPlan;
  state: LabState;
  mgmtNetwork?: string;
  created: number;
  updated: number;
}

interface LabRow {
  name: string;
  manifest: string;
  plan: string;
  state: LabState;
  mgmt_network: string | null;
  created: number;
  updated: number;
}

const fromRow = (r: LabRow): LabRecord => ({
  name: r.name,
  manifest: r.manifest,
  plan: JSON.parse(r.plan) as LabPlan,
  state: r.state,
  ...(r.mgmt_network ? { mgmtNetwork: r.mgmt_network } : {}),
  created: r.created,
  updated: r.updated,
});

/** The CONFLICT of a second `up` of a lab that exists. */
export const labExists = (name: string) => conflict(`lab "${name}" already exists: destroy it first, or redeploy its nodes`);

export class LabStore {
  constructor(readonly db: Db) {}

  /** Claim the name: a second `up` of the same lab (or a racing one) is a CONFLICT. */
  insert(plan: LabPlan, manifest: string): LabRecord {
    const now = Date.now();
    try {
      this.db.prepare("INSERT INTO labs (name, manifest, plan, state, created, updated) VALUES (?, ?, ?, 'deploying', ?, ?)").run(plan.name, manifest, JSON.stringify(plan), now, now);
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith("SQLITE_CONSTRAINT")) throw labExists(plan.name);
      throw e;
    }
    return this.get(plan.name);
  }

  get(name: string): LabRecord {
    const r = this.db.prepare("SELECT * FROM labs WHERE name = ?").get(name) as LabRow | undefined;
    if (!r) throw notFound(`no such lab: ${name}`);
    return fromRow(r);
  }

  find(name: string): LabRecord | undefined {
    const r = this.db.prepare("SELECT * FROM labs WHERE name = ?").get(name) as LabRow | undefined;
    return r && fromRow(r);
  }

  list(): LabRecord[] {
    return (this.db.prepare("SELECT * FROM labs ORDER BY name").all() as LabRow[]).map(fromRow);
  }

  update(name: string, change: { state?: LabState; mgmtNetwork?: string; plan?: LabPlan }): void {
    const sets: string[] = ["updated = ?"];
    const args: unknown[] = [Date.now()];
    if (change.state) sets.push("state = ?"), args.push(change.state);
    if (change.mgmtNetwork) sets.push("mgmt_network = ?"), args.push(change.mgmtNetwork);
    if (change.plan) sets.push("plan = ?"), args.push(JSON.stringify(change.plan));
    this.db.prepare(`UPDATE labs SET ${sets.join(", ")} WHERE name = ?`).run(...args, name);
  }

  delete(name: string): void {
    this.db.prepare("DELETE FROM labs WHERE name = ?").run(name);
  }
}
