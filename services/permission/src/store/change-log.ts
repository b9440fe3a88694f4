// The revision log in Postgres: the head (acl.meta) and one row per committed write holding
// the encoded permissionv1.Change, the idempotency key and the stored response.
import { permissionv1 } from "@filemesh/contracts";
import type { Queryable } from "@filemesh/kit";

/** A pool or a client inside the caller's transaction. */
export type Q = Queryable;

export async function readHead(q: Q): Promise<{ revision: number; instance: string }> {
  const { rows } = await q.query<{ revision: string; instance: string }>(
    "SELECT revision, instance FROM acl.meta WHERE id = 1",
  );
  const row = rows[0];
  if (!row) throw new Error("acl.meta is empty; migrations not applied");
  return { revision: Number(row.revision), instance: row.instance };
}

/**
 * Takes the writer lock (row lock on acl.meta until commit) and returns the head revision; the
 * writer issues head + 1, head + 2, … to the writes it commits and stores the last with setHead.
 * It also turns JIT off for the rest of the transaction (`SET LOCAL jit = off`, without a
 * statement of its own): the writer's statements are short look-ups on indexes.
 */
export async function lockHead(q: Q): Promise<number> {
  const { rows } = await q.query<{ revision: string }>(
    "SELECT revision, set_config('jit', 'off', true) FROM acl.meta WHERE id = 1 FOR UPDATE",
  );
  const row = rows[0];
  if (!row) throw new Error("acl.meta is empty; migrations not applied");
  return Number(row.revision);
}

export async function setHead(q: Q, revision: number): Promise<void> {
  await q.query("UPDATE acl.meta SET revision = $1 WHERE id = 1", [revision]);
}

export async function readChanges(q: Q, after: number, limit: number): Promise<permissionv1.Change[]> {
  const { rows } = await q.query<{ change: Buffer }>(
    "SELECT change FROM acl.changes WHERE revision > $1 ORDER BY revision LIMIT $2",
    [after, limit],
  );
  return rows.map((r) => permissionv1.Change.decode(r.change));
}

export interface StoredRequest {
  revision: number;
  requestHash: string;
  response: Buffer | null;
}

/** The stored requests of these request keys (one query for a whole batch). */
export async function findRequests(
  q: Q,
  requestKeys: readonly string[],
): Promise<Map<string, StoredRequest>> {
  const out = new Map<string, StoredRequest>();
  if (requestKeys.length === 0) return out;
  const { rows } = await q.query<{
    request_key: string;
    revision: string;
    request_hash: string;
    response: Buffer | null;
  }>(
    "SELECT request_key, revision, request_hash, response FROM acl.changes WHERE request_key = ANY($1::text[])",
    [requestKeys],
  );
  for (const r of rows) {
    out.set(r.request_key, {
      revision: Number(r.revision),
      requestHash: r.request_hash,
      response: r.response,
    });
  }
  return out;
}

export interface NewChange {
  change: permissionv1.Change;
  requestKey: string | null;
  requestHash: string | null;
  response: Uint8Array | null;
}

/** Appends the changes of one transaction (one row each, in one statement). */
export async function insertChanges(q: Q, changes: readonly NewChange[]): Promise<void> {
  if (changes.length === 0) return;
  await q.query(
    `INSERT INTO acl.changes (revision, change, request_key, request_hash, response, commit_time)
     SELECT r, c, k, h, a, t FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::bytea[], $6::timestamptz[])
       AS u(r, c, k, h, a, t)`,
    [
      changes.map((c) => c.change.revision),
      changes.map((c) => Buffer.from(permissionv1.Change.encode(c.change).finish())),
      changes.map((c) => c.requestKey),
      changes.map((c) => c.requestHash),
      changes.map((c) => (c.response ? Buffer.from(c.response) : null)),
      changes.map((c) => c.change.commitTime),
    ],
  );
}
