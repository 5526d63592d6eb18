/**
 * Resolve `-u user[:group]` and `--group-add` against the container's /etc/passwd and /etc/group, with the
 * semantics runc gives Docker and Podman:
 * - empty/undefined user: root (uid 0);
 * - a numeric user is always a uid (it need not exist in passwd; then HOME is "/" and the gid 0);
 * - a user name must exist in passwd; its primary gid and HOME come from there;
 * - an explicit group (name or number) replaces the primary gid, and then no supplementary groups are
 *   derived from /etc/group membership; without one, every group listing the user name is added;
 * - --group-add entries (names or numbers) are appended.
 */
import { invalid } from "../errors.js";
import type { ResolvedUser } from "./types.js";

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Largest id Docker accepts (ids are int32 in its user parsing). */
const MAX_ID = 2 ** 31 - 1;

function lines(text: string | undefined): string[][] {
  if (!text) return [];
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}

function toId(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of lines(text)) {
    const uid = toId(f[2]);
    const gid = toId(f[3]);
    // Malformed lines are skipped, as libc does.
    if (!f[0] || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] || "/" });
  }
  return out;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of lines(text)) {
    const gid = toId(f[2]);
    if (!f[0] || gid === undefined) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? "").split(",").map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

function numeric(flag: string, s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = toId(s);
  if (n === undefined) throw invalid(`invalid ${flag} "${s}": id out of range (0..${MAX_ID})`);
  return n;
}

export function resolveUser(
  spec: string | undefined,
  passwd: string | undefined,
  group: string | undefined,
  groupAdd?: string[],
): ResolvedUser {
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  const raw = (spec ?? "").trim();
  const colon = raw.indexOf(":");
  const userArg = colon < 0 ? raw : raw.slice(0, colon);
  const groupArg = colon < 0 ? "" : raw.slice(colon + 1);
  if (groupArg.includes(":")) throw invalid(`invalid --user "${raw}": expected user[:group]`);

  let uid: number;
  let gid = 0;
  let home = "/";
  let username: string | undefined;

  const uidArg = userArg === "" ? 0 : numeric("--user", userArg);
  if (uidArg !== undefined) {
    uid = uidArg;
    const e = users.find((u) => u.uid === uid);
    if (e) ({ gid, home, name: username } = e);
    else if (uid === 0) home = "/root";
  } else {
    const e = users.find((u) => u.name === userArg);
    if (!e) throw invalid(`unable to find user ${userArg}: no matching entries in passwd file`);
    ({ uid, gid, home, name: username } = e);
  }

  const additional: number[] = [];
  if (groupArg !== "") {
    const n = numeric("--user", groupArg);
    if (n !== undefined) gid = n;
    else {
      const g = groups.find((x) => x.name === groupArg);
      if (!g) throw invalid(`unable to find group ${groupArg}: no matching entries in group file`);
      gid = g.gid;
    }
  } else if (username !== undefined) {
    // Supplementary groups only in the implicit form, as runc does.
    for (const g of groups) if (g.members.includes(username)) additional.push(g.gid);
  }

  for (const a of groupAdd ?? []) {
    const t = a.trim();
    const n = numeric("--group-add", t);
    if (n !== undefined) additional.push(n);
    else {
      const g = groups.find((x) => x.name === t);
      if (!g) throw invalid(`invalid --group-add "${a}": unable to find group ${t}: no matching entries in group file`);
      additional.push(g.gid);
    }
  }

  const out: ResolvedUser = { uid, gid, additionalGids: [...new Set(additional)], home };
  if (username !== undefined) out.username = username;
  return out;
}
