// acl.fences: the greatest fencing token applied to each object (WriteRelations
// `fencing_token`). Read and advanced inside the write's transaction, under the writer lock.
import type { Q } from "./change-log.js";

/**
 * Advances the fence of every object in `objects` to `token`, unless one of them already holds a
 * greater token; returns false then (the caller fails the write, and its transaction or savepoint
 * undoes the advances made here). An equal token passes: a change split over several writes
 * (a large group deleted in chunks) carries one token.
 */
export async function advanceFences(tx: Q, objects: readonly string[], token: number): Promise<boolean> {
  if (objects.length === 0) return true;
  const { rowCount } = await tx.query(
    `INSERT INTO acl.fences (object, token) SELECT unnest($1::text[]), $2::bigint
     ON CONFLICT (object) DO UPDATE SET token = EXCLUDED.token WHERE acl.fences.token <= EXCLUDED.token`,
    [objects, token],
  );
  return rowCount === objects.length;
}
