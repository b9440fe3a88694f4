// SQL of the janitor's operations: old trash roots, versions in the store's key order, which
// keys and multipart uploads are still referenced, and the missing-content marks.

import type { Queryable } from "@filemesh/kit";
import { inTransaction } from "@filemesh/kit";
import type pg from "pg";

/** Trash roots trashed before `before`, oldest first. */
export async function trashRootsBefore(q: Queryable, before: Date, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    `SELECT id FROM files.files WHERE trash_root_id = id AND trash_time < $1
     ORDER BY trash_time, id LIMIT $2`,
    [before, limit],
  );
  return rows.map((r) => r.id);
}

/** Whether any upload session is still past its expiry (rows a concurrent expiry holds count). */
export async function anyOverdueSession(q: Queryable, before: Date): Promise<boolean> {
  const { rows } = await q.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM files.uploads WHERE state IN (1, 5)
       AND expire_time < least($1::timestamptz, now())) AS any`,
    [before],
  );
  return rows[0]?.any === true;
}

export interface KeyedVersion {
  id: string;
  object_key: string;
  create_time: Date;
  missing_time: Date | null;
}

/** Versions whose object key is after `after` and at most `upTo` (bytewise, the store's order). */
export async function versionsByKey(
  q: Queryable,
  after: string,
  upTo: string | undefined,
  limit: number,
): Promise<KeyedVersion[]> {
  const { rows } = await q.query<KeyedVersion>(
    `SELECT id, object_key, create_time, missing_time FROM files.versions
     WHERE object_key COLLATE "C" > $1 ${upTo === undefined ? "" : 'AND object_key COLLATE "C" <= $3'}
     ORDER BY object_key COLLATE "C" LIMIT $2`,
    upTo === undefined ? [after, limit] : [after, limit, upTo],
  );
  return rows;
}

/** referencedKeys' statement (object keys are compared bytewise: versions_object_key_c_key). */
export const REFERENCED_KEYS = `SELECT k FROM unnest($1::text[]) k
     WHERE EXISTS (SELECT 1 FROM files.versions WHERE object_key COLLATE "C" = k)
        OR EXISTS (SELECT 1 FROM files.versions WHERE files.thumbnail_key(object_key) = k)
        OR EXISTS (SELECT 1 FROM files.uploads WHERE object_key = k AND state IN (1, 5))
        OR EXISTS (SELECT 1 FROM files.uploads WHERE tail_key = k AND state IN (1, 5))`;

/** Of `keys`, those a version (its object or its thumbnail) or a live upload session (its object or tus tail) uses. */
export async function referencedKeys(q: Queryable, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { rows } = await q.query<{ k: string }>(REFERENCED_KEYS, [keys]);
  return new Set(rows.map((r) => r.k));
}

/** Of `ids`, the multipart upload ids of live upload sessions. */
export async function liveMultipartIds(q: Queryable, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await q.query<{ multipart_id: string }>(
    "SELECT multipart_id FROM files.uploads WHERE multipart_id = ANY($1::text[]) AND state IN (1, 5)",
    [ids],
  );
  return new Set(rows.map((r) => r.multipart_id));
}

/**
 * Marks versions whose object is missing (`missing`), or clears the mark of versions whose
 * object is back, with their files where the version is the current one. Returns the versions
 * whose mark changed.
 */
export async function setMissing(pool: pg.Pool, versionIds: string[], missing: boolean): Promise<string[]> {
  if (versionIds.length === 0) return [];
  return inTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE files.versions SET missing_time = ${missing ? "now()" : "NULL"}
       WHERE id = ANY($1::uuid[]) AND missing_time IS ${missing ? "" : "NOT "}NULL RETURNING id`,
      [versionIds],
    );
    const changed = rows.map((r) => r.id);
    await tx.query(
      `UPDATE files.files SET missing_time = ${missing ? "now()" : "NULL"} WHERE current_version_id = ANY($1::uuid[])`,
      [changed],
    );
    return changed;
  });
}
