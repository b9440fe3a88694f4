// SQL of tus uploads (rows of files.uploads with method 3; see ../store/uploads.ts).
import type { Queryable } from "@filemesh/kit";
import type { UploadRow } from "../store/uploads.js";
import { adjust, claim } from "../store/usage.js";

export async function setTusColumns(
  q: Queryable,
  id: string,
  o: { length: bigint | undefined; metadata: string },
): Promise<void> {
  await q.query("UPDATE files.uploads SET tus_length = $2, tus_metadata = $3 WHERE id = $1", [
    id,
    o.length === undefined ? null : String(o.length),
    o.metadata,
  ]);
}

/**
 * Moves the offset from `from` to `to` with the new tail object, only if no other request
 * moved it meanwhile (same offset, same tail) and the upload is still ACTIVE.
 */
export async function advanceTus(
  q: Queryable,
  u: Pick<UploadRow, "id" | "tail_key">,
  from: bigint,
  to: bigint,
  tail: string | null,
): Promise<boolean> {
  const res = await q.query(
    `UPDATE files.uploads SET committed_bytes = $3, tail_key = $4
     WHERE id = $1 AND committed_bytes = $2 AND state = 1 AND tail_key IS NOT DISTINCT FROM $5`,
    [u.id, String(from), String(to), tail, u.tail_key ?? null],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * Sets what the upload reserves to `bytes` (a deferred length declared, or a deferred upload
 * growing by its next chunk): the difference claimed against the quota (QUOTA_EXCEEDED) or
 * released, with size_bytes, in one transaction on the locked row. False when the upload is no
 * longer ACTIVE (nothing changed).
 */
export async function setReserved(
  q: Queryable,
  id: string,
  bytes: bigint,
  o: { defaultQuota: number; declare?: { partCount: number } },
): Promise<boolean> {
  const { rows } = await q.query<UploadRow>(
    "SELECT * FROM files.uploads WHERE id = $1 AND state = 1 FOR UPDATE",
    [id],
  );
  const u = rows[0];
  if (!u) return false;
  const delta = bytes - BigInt(u.size_bytes);
  if (delta > 0n) await claim(q, u.owner_id, { reserve: delta, defaultQuota: o.defaultQuota });
  if (delta < 0n) await adjust(q, u.owner_id, { reserved: delta });
  await q.query(
    `UPDATE files.uploads SET size_bytes = $2,
       tus_length = CASE WHEN $3::boolean THEN $2 ELSE tus_length END,
       part_count = CASE WHEN $3::boolean THEN $4 ELSE part_count END
     WHERE id = $1`,
    [id, String(bytes), Boolean(o.declare), o.declare?.partCount ?? 0],
  );
  return true;
}
