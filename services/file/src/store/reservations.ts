// files.reservations: quota reserved by a raw upload whose length is not known in advance,
// held by one process while the body arrives (domain/reservation.ts). The row is the
// reservation: growing it moves bytes into files.usage.reserved_bytes in the same statement,
// and whoever deletes the row (the commit, the upload's own release, or the janitor once the
// lease has lapsed because the process died) gives those bytes back, exactly once.
import type { Queryable } from "@filemesh/kit";
import { adjust, onUsageRow, quotaExceeded } from "./usage.js";

/**
 * Reserves `bytes` more for reservation `id` of `userId` if the quota allows (QUOTA_EXCEEDED
 * otherwise) and renews its lease; the bytes the row now holds.
 */
export async function growReservation(
  q: Queryable,
  r: { id: string; userId: string; bytes: bigint; defaultQuota: number },
): Promise<bigint> {
  let bytes: string | undefined;
  const grown = await onUsageRow(q, r.userId, async () => {
    const { rows } = await q.query<{ bytes: string }>(
      `WITH claimed AS (
       UPDATE files.usage SET reserved_bytes = reserved_bytes + $3
       WHERE user_id = $2 AND used_bytes + reserved_bytes + $3 <= coalesce(quota_bytes, $4)
       RETURNING 1)
     INSERT INTO files.reservations (id, owner_id, bytes) SELECT $1, $2, $3 FROM claimed
     ON CONFLICT (id) DO UPDATE SET bytes = files.reservations.bytes + EXCLUDED.bytes,
       lease_time = clock_timestamp()
     RETURNING bytes`,
      [r.id, r.userId, String(r.bytes), String(r.defaultQuota)],
    );
    bytes = rows[0]?.bytes;
    return bytes !== undefined;
  });
  if (!grown || bytes === undefined) throw quotaExceeded(r.userId, r.bytes);
  return BigInt(bytes);
}

/** Keeps the reservation's lease (false: the janitor released it already). */
export async function renewReservation(q: Queryable, id: string): Promise<boolean> {
  const res = await q.query("UPDATE files.reservations SET lease_time = clock_timestamp() WHERE id = $1", [
    id,
  ]);
  return (res.rowCount ?? 0) > 0;
}

/**
 * Ends the reservation: the bytes it held (0 when it was already gone). Inside a commit the
 * caller turns them into use; `release` gives them back.
 */
export async function takeReservation(q: Queryable, id: string): Promise<bigint> {
  const { rows } = await q.query<{ bytes: string }>(
    "DELETE FROM files.reservations WHERE id = $1 RETURNING bytes",
    [id],
  );
  return rows[0] ? BigInt(rows[0].bytes) : 0n;
}

/** Ends the reservation and gives its bytes back to the quota (one statement: exactly once). */
export async function releaseReservation(q: Queryable, id: string): Promise<void> {
  await q.query(
    `WITH gone AS (DELETE FROM files.reservations WHERE id = $1 RETURNING owner_id, bytes)
     UPDATE files.usage u SET reserved_bytes = greatest(0, u.reserved_bytes - gone.bytes)
     FROM gone WHERE u.user_id = gone.owner_id`,
    [id],
  );
}

/**
 * The janitor: reservations whose lease was last renewed more than `leaseMs` ago (by the
 * database's clock; their process is gone) are released, at most `limit`, owners in a fixed
 * order; how many. Run it in a transaction.
 */
export async function releaseLapsed(tx: Queryable, leaseMs: number, limit: number): Promise<number> {
  const { rows } = await tx.query<{ owner_id: string; bytes: string }>(
    `DELETE FROM files.reservations WHERE id IN (
       SELECT id FROM files.reservations
       WHERE lease_time < clock_timestamp() - make_interval(secs => $1::double precision)
       ORDER BY lease_time LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING owner_id, bytes`,
    [leaseMs / 1000, limit],
  );
  const byOwner = new Map<string, bigint>();
  for (const r of rows) byOwner.set(r.owner_id, (byOwner.get(r.owner_id) ?? 0n) + BigInt(r.bytes));
  for (const owner of [...byOwner.keys()].sort()) {
    await adjust(tx, owner, { reserved: -byOwner.get(owner)! });
  }
  return rows.length;
}
