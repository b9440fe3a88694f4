// The checker, run once the faults are over and the workload stopped: every acknowledged
// upload exists, READY, with its SHA-256 and bytes; every acknowledged grant or membership is
// in force on every permission replica, every revoke denied; no logged-out session is
// accepted; the outboxes drain; no quota stays reserved; and no attempt at any time answered
// 500 / INTERNAL, or failed outside a fault with anything but the retryable statuses.

import type { Attempt } from "./client.js";
import type { Cluster } from "./cluster.js";
import { sha256, type Workload } from "./workload.js";

export interface FaultWindow {
  name: string;
  start: number;
  /** When the fault was healed (the replica SERVING again, the store back). */
  end: number;
}

/** Faults that flush Redis end every session (they live there): 401s a client answers by logging in. */
const endsSessions = (w: FaultWindow) => /redis/i.test(w.name);
const SESSION_LOST = new Set(["SESSION_ENDED", "INVALID_REFRESH_TOKEN"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(fn: () => Promise<T>, done: (v: T) => boolean, ms = 60_000) {
  const until = Date.now() + ms;
  let last: T = await fn();
  while (!done(last) && Date.now() < until) {
    await sleep(250);
    last = await fn();
  }
  return last;
}

/** Statuses a fault may show to a client (with RetryInfo for RESOURCE_EXHAUSTED). */
const FAULT_STATUSES = new Set(["UNAVAILABLE", "ABORTED", "RESOURCE_EXHAUSTED"]);

export interface StatusReport {
  /** Attempts that answered 500 / INTERNAL / UNKNOWN / DATA_LOSS, at any time. */
  internal: Attempt[];
  /** Failed attempts with a status a fault must not produce (e.g. DEADLINE_EXCEEDED, a 4xx). */
  unexpected: Attempt[];
  /** Retryable failures outside every fault window (with `graceMs` after each). */
  outside: Attempt[];
  /** RESOURCE_EXHAUSTED without RetryInfo / Retry-After. */
  exhaustedWithoutDelay: Attempt[];
}

export function classifyAttempts(
  attempts: Attempt[],
  windows: FaultWindow[],
  graceMs = 15_000,
): StatusReport {
  const failed = attempts.filter((a) => a.code !== "OK");
  const inFault = (a: Attempt) => windows.some((w) => a.end >= w.start && a.start <= w.end + graceMs);
  return {
    internal: failed.filter((a) => a.http === 500 || ["INTERNAL", "UNKNOWN", "DATA_LOSS"].includes(a.code)),
    // A broken connection to the gateway (CONNECTION) is not an API answer; the gateway never
    // restarts here, so any is reported too.
    unexpected: failed.filter(
      (a) =>
        !FAULT_STATUSES.has(a.code) &&
        !(
          SESSION_LOST.has(a.reason) &&
          windows.some((w) => endsSessions(w) && a.end >= w.start && a.start <= w.end + graceMs)
        ),
    ),
    outside: failed.filter((a) => FAULT_STATUSES.has(a.code) && !inFault(a)),
    exhaustedWithoutDelay: failed.filter((a) => a.code === "RESOURCE_EXHAUSTED" && a.retryAfterMs <= 0),
  };
}

export interface Recovery {
  fault: string;
  /** ms from the end of the fault to the first successful attempt that started after it. */
  firstSuccessMs: number;
  /** ms from the end of the fault to the end of the last failed attempt it caused (0: none after). */
  lastFailureMs: number;
  failedAttempts: number;
  attempts: number;
}

export function recoveries(attempts: Attempt[], windows: FaultWindow[], graceMs = 15_000): Recovery[] {
  return windows.map((w, i) => {
    const next = windows[i + 1]?.start ?? Number.POSITIVE_INFINITY;
    const during = attempts.filter((a) => a.end >= w.start && a.start <= Math.min(w.end + graceMs, next));
    const failed = during.filter((a) => a.code !== "OK");
    const firstOk = attempts.find((a) => a.code === "OK" && a.start >= w.end);
    const lastFail = failed.reduce((m, a) => Math.max(m, a.end), 0);
    return {
      fault: w.name,
      firstSuccessMs: firstOk ? firstOk.end - w.end : -1,
      lastFailureMs: lastFail > w.end ? lastFail - w.end : 0,
      failedAttempts: failed.length,
      attempts: during.length,
    };
  });
}

export interface Findings {
  uploads: string[];
  relations: string[];
  sessions: string[];
  outbox: string[];
  quota: string[];
  /** Where the users schema and the permission service disagree on a membership. */
  memberships: string[];
}

/** What a run that kept every acknowledgement finds. */
export const NO_FINDINGS: Findings = {
  uploads: [],
  relations: [],
  sessions: [],
  outbox: [],
  quota: [],
  memberships: [],
};

export async function checkState(c: Cluster, w: Workload): Promise<Findings> {
  const f: Findings = { uploads: [], relations: [], sessions: [], outbox: [], quota: [], memberships: [] };
  const { rest, acks } = w;
  const auth = (access: string) => ({ authorization: `Bearer ${access}` });

  for (const up of acks.uploads) {
    const got = await eventually(
      () =>
        rest.request("check:getFile", "GET", `/v1/files/${up.fileId}`, {
          headers: auth(up.owner.access),
          retry: "idempotent",
        }),
      (r) => r.status !== 200 || r.body.state === "READY" || r.body.state === "REJECTED",
    );
    if (got.status !== 200) {
      f.uploads.push(
        `${up.via} upload ${up.fileId}: HTTP ${got.status} ${JSON.stringify(got.body).slice(0, 200)}`,
      );
      continue;
    }
    if (got.body.state !== "READY") f.uploads.push(`${up.via} upload ${up.fileId}: ${got.body.state}`);
    if (got.body.sha256 !== up.sha256 || Number(got.body.sizeBytes) !== up.size)
      f.uploads.push(`${up.via} upload ${up.fileId}: sha256/size ${got.body.sha256}/${got.body.sizeBytes}`);
    const content = await rest.request("check:download", "GET", `/v1/files/${up.fileId}/content`, {
      headers: auth(up.owner.access),
      retry: "idempotent",
    });
    if (content.status !== 200 || sha256(content.bytes) !== up.sha256)
      f.uploads.push(`${up.via} upload ${up.fileId}: content HTTP ${content.status}, other bytes`);
  }

  for (const rel of acks.relations.values()) {
    const seen = await w.checkAll(rel.subject, rel.resource, rel.revision);
    if (seen.some((s) => s !== rel.allowed))
      f.relations.push(
        `${rel.what} (revision ${rel.revision}, ${rel.allowed ? "in force" : "revoked"}): replicas say ${seen}`,
      );
  }

  for (const s of acks.loggedOut) {
    const r = await rest.request("check:getMe", "GET", "/v1/users/me", {
      headers: auth(s.access),
      retry: "idempotent",
    });
    if (r.status !== 401) f.sessions.push(`a logged-out session of ${s.user.id}: HTTP ${r.status}`);
  }

  const schemas = (
    await c.db.query(
      "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' ORDER BY 1",
    )
  ).rows.map((r) => r.table_schema as string);
  for (const s of schemas) {
    const left = await eventually(
      async () =>
        Number(
          (await c.db.query(`SELECT count(*) AS n FROM "${s}".outbox WHERE published_at IS NULL`)).rows[0].n,
        ),
      (n) => n === 0,
      30_000,
    );
    if (left !== 0) f.outbox.push(`${s}.outbox: ${left} rows unpublished 30 s after the workload`);
  }

  // Every reserved byte belongs to a session still open (a client may abandon one: the
  // reservation then lasts until it expires); anything else leaked. A raw upload cut off by a
  // replica killed with -9 holds its reservation until the lease lapses and the janitor runs
  // (RAW_RESERVATION_LEASE and JANITOR_INTERVAL, 5 s each here): waited for, then a leak.
  const reserved = await eventually(
    async () =>
      (
        await c.db.query(
          `SELECT u.user_id, u.reserved_bytes, coalesce(o.open, 0) AS open
             FROM files.usage u
             LEFT JOIN (SELECT owner_id, sum(size_bytes) AS open FROM files.uploads
                         WHERE state IN (1, 5) AND expire_time > now() GROUP BY owner_id) o
               ON o.owner_id = u.user_id
            WHERE u.reserved_bytes <> coalesce(o.open, 0)`,
        )
      ).rows as { user_id: string; reserved_bytes: string; open: string }[],
    (rows) => rows.length === 0,
    30_000,
  );
  for (const r of reserved) {
    f.quota.push(`user ${r.user_id}: ${r.reserved_bytes} bytes reserved, open sessions hold ${r.open}`);
  }

  // Every membership, acknowledged or not, is the same in both stores: a change whose replica
  // was killed after its permission write is undone by a sweep (ACL_REPAIR_AFTER, 5 s here),
  // and no intent is left.
  const drift = await eventually(
    async () =>
      (
        await c.db.query(
          `WITH want AS (
             -- one role per subject in a group there (an admin is a member too)
             SELECT 'group:' || m.group_id AS object, m.role AS relation, m.member_kind || ':' || m.member_id AS subject
               FROM users.memberships m),
           have AS (
             SELECT object, relation, subject FROM acl.tuples
              WHERE object LIKE 'group:%' AND relation IN ('member', 'admin')
                AND (expire_time IS NULL OR expire_time > now())),
           intents AS (SELECT count(*) AS n FROM users.acl_intents)
           SELECT 'only in users' AS side, * FROM (SELECT * FROM want EXCEPT SELECT * FROM have) a
           UNION ALL SELECT 'only in acl', * FROM (SELECT * FROM have EXCEPT SELECT * FROM want) b
           UNION ALL SELECT 'intents left', n::text, '', '' FROM intents WHERE n > 0`,
        )
      ).rows as { side: string; object: string; relation: string; subject: string }[],
    (rows) => rows.length === 0,
    30_000,
  );
  for (const d of drift) f.memberships.push(`${d.side}: ${d.object}#${d.relation}@${d.subject}`);
  return f;
}
