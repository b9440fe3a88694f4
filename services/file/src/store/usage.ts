// files.usage: bytes used (stored versions, trash included), bytes reserved by open upload
// sessions, file count and an optional per-user quota. Every change is one conditional UPDATE
// on the user's row, so concurrent uploads serialise on it and can never together pass the
// quota.

import type { Queryable } from "@filemesh/kit";
import { AppError, Code } from "@filemesh/kit";

export interface UsageRow {
  used_bytes: string;
  reserved_bytes: string;
  file_count: string;
  quota_bytes: string;
}

export const quotaExceeded = (userId: string, wanted: bigint) =>
  new AppError(Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED", "not enough storage quota left", {
    quotaViolations: [
      { subject: `user:${userId}`, description: `${wanted} more bytes would exceed the quota` },
    ],
  });

/** The usage row of a user (created empty on first use). */
export async function ensureRow(q: Queryable, userId: string): Promise<void> {
  await q.query("INSERT INTO files.usage (user_id) VALUES ($1) ON CONFLICT DO NOTHING", [userId]);
}

/**
 * Runs a conditional statement on the user's usage row (true when it matched); when it did not
 * (the row may not exist yet), makes sure the row exists and runs it once more. One round trip
 * in the common case (the row exists and the change fits), not an INSERT before every change.
 * The second run happens whoever created the row: a concurrent first upload's insert counts.
 */
export async function onUsageRow(
  q: Queryable,
  userId: string,
  run: () => Promise<boolean>,
): Promise<boolean> {
  if (await run()) return true;
  await ensureRow(q, userId);
  return run();
}

/**
 * Moves `reserve` bytes into reserved and `use` bytes into used (and counts `files` new files)
 * if the total stays within the quota; throws QUOTA_EXCEEDED otherwise.
 */
export async function claim(
  q: Queryable,
  userId: string,
  o: { reserve?: bigint; use?: bigint; files?: number; defaultQuota: number },
): Promise<void> {
  const reserve = o.reserve ?? 0n;
  const use = o.use ?? 0n;
  const claimed = await onUsageRow(q, userId, async () => {
    const res = await q.query(
      `UPDATE files.usage SET reserved_bytes = reserved_bytes + $2, used_bytes = used_bytes + $3,
         file_count = file_count + $4
       WHERE user_id = $1 AND used_bytes + reserved_bytes + $2 + $3 <= coalesce(quota_bytes, $5)`,
      [userId, String(reserve), String(use), o.files ?? 0, String(o.defaultQuota)],
    );
    return (res.rowCount ?? 0) > 0;
  });
  if (!claimed) throw quotaExceeded(userId, reserve + use);
}

/** Unconditional adjustment (releases, frees, and turning a reservation into use). */
export async function adjust(
  q: Queryable,
  userId: string,
  d: { reserved?: bigint; used?: bigint; files?: number },
): Promise<void> {
  // One statement: the row is created by the change if it is not there yet.
  await q.query(
    `INSERT INTO files.usage AS u (user_id, reserved_bytes, used_bytes, file_count)
     VALUES ($1, greatest(0, $2::bigint), greatest(0, $3::bigint), greatest(0, $4::bigint))
     ON CONFLICT (user_id) DO UPDATE SET reserved_bytes = greatest(0, u.reserved_bytes + $2),
       used_bytes = greatest(0, u.used_bytes + $3), file_count = greatest(0, u.file_count + $4)`,
    [userId, String(d.reserved ?? 0n), String(d.used ?? 0n), d.files ?? 0],
  );
}

export async function usageOf(q: Queryable, userId: string, defaultQuota: number): Promise<UsageRow> {
  const { rows } = await q.query<UsageRow>(
    `SELECT used_bytes, reserved_bytes, file_count, coalesce(quota_bytes, $2)::bigint AS quota_bytes
     FROM files.usage WHERE user_id = $1`,
    [userId, String(defaultQuota)],
  );
  return (
    rows[0] ?? { used_bytes: "0", reserved_bytes: "0", file_count: "0", quota_bytes: String(defaultQuota) }
  );
}
