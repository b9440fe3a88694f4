// files.uploads and files.upload_parts: upload sessions. A session reserves its declared
// size in files.usage from creation until it completes, is cancelled or expires.
import type { Queryable } from "@filemesh/kit";
import { adjust } from "./usage.js";

/** Stored states; COMPLETING (a commit in flight) shows as ACTIVE. */
export const UPLOAD = { ACTIVE: 1, COMPLETED: 2, ABORTED: 3, EXPIRED: 4, COMPLETING: 5 } as const;
/** TUS: a tus 1.0 upload (services/file/src/tus); shown as STREAM on the gRPC surface. */
export const METHOD = { PARTS: 1, STREAM: 2, TUS: 3 } as const;

export interface UploadRow {
  id: string;
  owner_id: string;
  parent_id: string;
  name: string;
  size_bytes: string;
  sha256: string;
  method: number;
  state: number;
  committed_bytes: string;
  part_bytes: string;
  part_count: number;
  object_key: string;
  multipart_id: string;
  file_id: string | null;
  create_time: Date;
  expire_time: Date;
  /** tus only: the declared Upload-Length (null while deferred), the metadata, the tail object. */
  tus_length?: string | null;
  tus_metadata?: string;
  tail_key?: string | null;
}

export interface PartRow {
  part_number: number;
  size_bytes: string;
  etag: string;
}

export async function insertUpload(
  q: Queryable,
  u: Omit<UploadRow, "create_time" | "state" | "committed_bytes" | "file_id">,
) {
  const { rows } = await q.query<UploadRow>(
    `INSERT INTO files.uploads (id, owner_id, parent_id, name, size_bytes, sha256, method, state, part_bytes,
       part_count, object_key, multipart_id, expire_time)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $12) RETURNING *`,
    [
      u.id,
      u.owner_id,
      u.parent_id,
      u.name,
      u.size_bytes,
      u.sha256,
      u.method,
      u.part_bytes,
      u.part_count,
      u.object_key,
      u.multipart_id,
      u.expire_time,
    ],
  );
  return rows[0]!;
}

/**
 * The owner's open (active, not yet expired) sessions, counted up to `limit`, with a lock on
 * that count until the caller's transaction ends: concurrent creates of one owner queue here,
 * so each counts the others' committed rows and N + 1 at once never all pass a cap of N.
 */
export async function openSessionsLocked(q: Queryable, ownerId: string, limit: number): Promise<number> {
  await q.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`files.uploads.${ownerId}`]);
  const { rows } = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM files.uploads WHERE owner_id = $1 AND state = 1 AND expire_time > now() LIMIT $2
     ) open`,
    [ownerId, limit],
  );
  return rows[0]?.n ?? 0;
}

export async function getUpload(q: Queryable, id: string, lock = false): Promise<UploadRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await q.query<UploadRow>(
    `SELECT * FROM files.uploads WHERE id = $1${lock ? " FOR UPDATE" : ""}`,
    [id],
  );
  return rows[0];
}

/** Moves a session from one state to another; false when it was not in `from`. */
export async function transition(q: Queryable, id: string, from: number, to: number, fileId?: string) {
  // Entering COMPLETING takes the completion lease (renewed by renewCompletion).
  const res = await q.query(
    `UPDATE files.uploads SET state = $3::smallint, file_id = coalesce($4, file_id),
       lease_time = CASE WHEN $3::smallint = ${UPLOAD.COMPLETING} THEN clock_timestamp() ELSE lease_time END
     WHERE id = $1 AND state = $2`,
    [id, from, to, fileId ?? null],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * A completion (COMPLETING) holds a lease it renews while it works: a process killed mid-way
 * stops renewing, and once the lease is older than COMPLETION_LEASE (config.ts) the session is
 * ACTIVE again (staleCompletionReleased), so a retry completes it instead of finding it "being
 * completed" until it expires, its quota reserved all that time.
 */
export async function renewCompletion(q: Queryable, id: string): Promise<void> {
  await q.query(
    `UPDATE files.uploads SET lease_time = clock_timestamp() WHERE id = $1 AND state = ${UPLOAD.COMPLETING}`,
    [id],
  );
}

/** COMPLETING → ACTIVE when its lease ran out (no renewal for leaseMs); true if it did. */
export async function staleCompletionReleased(q: Queryable, id: string, leaseMs: number) {
  const res = await q.query(
    `UPDATE files.uploads SET state = ${UPLOAD.ACTIVE}
     WHERE id = $1 AND state = ${UPLOAD.COMPLETING}
       AND coalesce(lease_time, '-infinity') < clock_timestamp() - make_interval(secs => $2::float8 / 1000)`,
    [id, leaseMs],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Advances committed_bytes from `from` to `to`; false when another writer moved it. */
export async function advance(q: Queryable, id: string, from: string, to: string): Promise<boolean> {
  const res = await q.query(
    "UPDATE files.uploads SET committed_bytes = $3 WHERE id = $1 AND committed_bytes = $2 AND state = 1",
    [id, from, to],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function savePart(
  q: Queryable,
  uploadId: string,
  p: { partNumber: number; sizeBytes: number; etag: string },
) {
  await q.query(
    `INSERT INTO files.upload_parts (upload_id, part_number, size_bytes, etag) VALUES ($1, $2, $3, $4)
     ON CONFLICT (upload_id, part_number) DO UPDATE SET size_bytes = excluded.size_bytes, etag = excluded.etag`,
    [uploadId, p.partNumber, p.sizeBytes, p.etag],
  );
}

export async function partsOf(q: Queryable, uploadId: string): Promise<PartRow[]> {
  const { rows } = await q.query<PartRow>(
    "SELECT part_number, size_bytes, etag FROM files.upload_parts WHERE upload_id = $1 ORDER BY part_number",
    [uploadId],
  );
  return rows;
}

/**
 * Expires sessions past their expiry — one owner's (`ownerId`, lazily on their next call) or
 * anyone's (the janitor) — at most `limit`, oldest first, and releases their reservations; in
 * the caller's transaction. Rows another transaction holds (a commit in flight, a concurrent
 * expiry) are skipped, so each session is expired, and its quota released, exactly once.
 * Returns them so their multipart uploads can be aborted.
 */
export async function expireSessions(
  q: Queryable,
  o: { ownerId?: string; before?: Date; limit?: number } = {},
): Promise<UploadRow[]> {
  const { rows } = await q.query<UploadRow>(
    `UPDATE files.uploads u SET state = 4 FROM (
       SELECT id FROM files.uploads
       WHERE state IN (1, 5) AND expire_time < least(coalesce($1::timestamptz, now()), now())
         AND ($2::text IS NULL OR owner_id = $2)
       ORDER BY expire_time, id LIMIT $3 FOR UPDATE SKIP LOCKED
     ) due WHERE u.id = due.id RETURNING u.*`,
    [o.before ?? null, o.ownerId ?? null, o.limit ?? null],
  );
  const byOwner = new Map<string, bigint>();
  for (const r of rows) byOwner.set(r.owner_id, (byOwner.get(r.owner_id) ?? 0n) + BigInt(r.size_bytes));
  // One owner at a time, in a fixed order (concurrent expiries lock usage rows alike).
  for (const owner of [...byOwner.keys()].sort()) {
    await adjust(q, owner, { reserved: -(byOwner.get(owner) ?? 0n) });
  }
  return rows;
}
