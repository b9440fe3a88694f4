// users.requests: idempotency records of writes retried with the same request_id. The record
// is claimed first in the write's own transaction, so a concurrent retry waits for the first
// attempt and then replays its answer; a rolled-back attempt leaves nothing behind.
import type { Queryable } from "@filemesh/kit";

export interface RequestKey {
  caller: string;
  method: string;
  requestId: string;
}

export type Claim = { fresh: true } | { fresh: false; fingerprint: string; response: Buffer | null };

export async function claimRequest(q: Queryable, key: RequestKey, fingerprint: string): Promise<Claim> {
  const ins = await q.query(
    `INSERT INTO users.requests (caller, method, request_id, fingerprint) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [key.caller, key.method, key.requestId, fingerprint],
  );
  if ((ins.rowCount ?? 0) > 0) return { fresh: true };
  const { rows } = await q.query<{ fingerprint: string; response: Buffer | null }>(
    "SELECT fingerprint, response FROM users.requests WHERE caller = $1 AND method = $2 AND request_id = $3",
    [key.caller, key.method, key.requestId],
  );
  const row = rows[0];
  // Pruned between the two statements: treat as a conflict the caller can retry.
  return row ? { fresh: false, ...row } : { fresh: false, fingerprint: "", response: null };
}

export async function saveResponse(q: Queryable, key: RequestKey, response: Uint8Array): Promise<void> {
  await q.query(
    "UPDATE users.requests SET response = $4 WHERE caller = $1 AND method = $2 AND request_id = $3",
    [key.caller, key.method, key.requestId, Buffer.from(response)],
  );
}

export async function pruneRequests(q: Queryable, olderThanMs: number): Promise<number> {
  const res = await q.query(
    "DELETE FROM users.requests WHERE create_time < now() - make_interval(secs => $1::double precision)",
    [olderThanMs / 1000],
  );
  return res.rowCount ?? 0;
}
