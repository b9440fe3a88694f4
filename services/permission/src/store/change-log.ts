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

/** Takes the writer lock (row lock on acl.meta until commit) and the next revision. */
export async function nextRevision(q: Q): Promise<number> {
  const { rows } = await q.query<{ revision: string }>(
    "UPDATE acl.meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
  );
  return Number(rows[0]!.revision);
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

export async function findRequest(q: Q, requestKey: string): Promise<StoredRequest | undefined> {
  const { rows } = await q.query<{ revision: string; request_hash: string; response: Buffer | null }>(
    "SELECT revision, request_hash, response FROM acl.changes WHERE request_key = $1",
    [requestKey],
  );
  const r = rows[0];
  return r && { revision: Number(r.revision), requestHash: r.request_hash, response: r.response };
}

export async function insertChange(
  q: Q,
  c: {
    change: permissionv1.Change;
    requestKey: string | null;
    requestHash: string | null;
    response: Uint8Array | null;
  },
): Promise<void> {
  await q.query(
    `INSERT INTO acl.changes (revision, change, request_key, request_hash, response, commit_time)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      c.change.revision,
      Buffer.from(permissionv1.Change.encode(c.change).finish()),
      c.requestKey,
      c.requestHash,
      c.response ? Buffer.from(c.response) : null,
      c.change.commitTime,
    ],
  );
}
