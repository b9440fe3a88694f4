// Versions still PROCESSING long after their commit: their file_uploaded event was committed
// with them, but the processor never decided (an event lost between the relay and the
// processor, e.g. JetStream's acknowledged-but-unsynced writes when NATS is killed with -9).
import type { Queryable } from "@filemesh/kit";
import { STATE } from "./files.js";

export interface StuckVersion {
  file_id: string;
  version_id: string;
  owner_id: string;
  parent_id: string;
  name: string;
  size_bytes: string;
  sha256: string;
  object_key: string;
  new_version: boolean;
}

/**
 * PROCESSING versions committed (or last re-driven) more than `olderThanMs` ago by the
 * database's clock, oldest first, locked (another replica skips them); at most `limit`.
 * Run it in the transaction that re-drives them.
 */
export async function stuckProcessing(
  tx: Queryable,
  olderThanMs: number,
  limit: number,
): Promise<StuckVersion[]> {
  const { rows } = await tx.query<StuckVersion>(
    `SELECT v.file_id, v.id AS version_id, f.owner_id, f.parent_id, f.name, v.size_bytes, v.sha256,
            v.object_key,
            EXISTS (SELECT 1 FROM files.versions o WHERE o.file_id = v.file_id AND o.create_time < v.create_time)
              AS new_version
       FROM files.versions v JOIN files.files f ON f.id = v.file_id
      WHERE v.state = $3 AND v.missing_time IS NULL
        AND coalesce(v.redrive_time, v.create_time) < clock_timestamp() - make_interval(secs => $1::double precision)
      ORDER BY coalesce(v.redrive_time, v.create_time)
      LIMIT $2
      FOR UPDATE OF v SKIP LOCKED`,
    [olderThanMs / 1000, limit, STATE.PROCESSING],
  );
  return rows;
}

export async function markRedriven(tx: Queryable, versionIds: string[]): Promise<void> {
  await tx.query("UPDATE files.versions SET redrive_time = clock_timestamp() WHERE id = ANY($1::uuid[])", [
    versionIds,
  ]);
}
