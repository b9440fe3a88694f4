// jobs.upload_results: one row per file_uploaded event the pipeline finished (its idempotency
// record, written after the file service took the state), with what it found.
import type pg from "pg";

export interface UploadResult {
  eventId: string;
  fileId: string;
  versionId: string;
  /** READY, REJECTED, or what the file service answered instead (gone, stale). */
  state: string;
  reason: string;
  contentType: string;
  hasThumbnail: boolean;
  deliveries: number;
  commitTime: Date | undefined;
}

export async function uploadFinished(pool: pg.Pool, eventId: string): Promise<boolean> {
  const { rowCount } = await pool.query("SELECT 1 FROM jobs.upload_results WHERE event_id = $1", [eventId]);
  return (rowCount ?? 0) > 0;
}

/** Records the result; false when the event was recorded already (a concurrent duplicate). */
export async function recordUploadResult(pool: pg.Pool, r: UploadResult): Promise<boolean> {
  const res = await pool.query(
    `INSERT INTO jobs.upload_results (event_id, file_id, version_id, state, reason, content_type,
       has_thumbnail, deliveries, commit_time)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      r.eventId,
      r.fileId,
      r.versionId,
      r.state,
      r.reason,
      r.contentType,
      r.hasThumbnail,
      r.deliveries,
      r.commitTime ?? null,
    ],
  );
  return (res.rowCount ?? 0) > 0;
}
