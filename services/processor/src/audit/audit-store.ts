// SQL of jobs.audit_events: one row per event id, listed newest first with keyset paging.
import type pg from "pg";

export interface AuditRecord {
  eventId: string;
  type: string;
  protoType: string;
  actor: string;
  resource: string;
  occurTime: Date;
  requestId: string;
  traceparent: string;
  payload: Uint8Array;
  payloadJson: string | undefined;
  stream: string;
  streamSeq: number;
}

export interface AuditFilter {
  actor?: string;
  resource?: string;
  /** A subject (filemesh.files.file_uploaded) or a message name (filemesh.events.v1.FileUploaded). */
  type?: string;
  /** Inclusive. */
  startTime?: Date;
  /** Exclusive. */
  endTime?: Date;
}

/** Position after the last row served: (occur_time, event_id), descending. */
export interface AuditCursor {
  occurTime: Date;
  eventId: string;
}

export interface AuditRow {
  event_id: string;
  type: string;
  actor: string;
  resource: string;
  occur_time: Date;
  payload_json: string | null;
}

/** Stores the event unless its id is already there; true when this call stored it. */
export async function insertAuditEvent(pool: pg.Pool, r: AuditRecord): Promise<boolean> {
  const res = await pool.query(
    `INSERT INTO jobs.audit_events (event_id, type, proto_type, actor, resource, occur_time,
       request_id, traceparent, payload, payload_json, stream, stream_seq)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      r.eventId,
      r.type,
      r.protoType,
      r.actor,
      r.resource,
      r.occurTime,
      r.requestId,
      r.traceparent,
      Buffer.from(r.payload),
      r.payloadJson ?? null,
      r.stream,
      r.streamSeq,
    ],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Up to `limit` rows matching `filter`, newest first, after `cursor`. */
export async function listAuditEvents(
  pool: pg.Pool,
  filter: AuditFilter,
  limit: number,
  cursor?: AuditCursor,
): Promise<AuditRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    args.push(value);
    where.push(sql(`$${args.length}`));
  };
  if (filter.actor) add((p) => `actor = ${p}`, filter.actor);
  if (filter.resource) add((p) => `resource = ${p}`, filter.resource);
  if (filter.type) {
    add(
      (p) => (filter.type!.startsWith("filemesh.events.") ? `proto_type = ${p}` : `type = ${p}`),
      filter.type,
    );
  }
  if (filter.startTime) add((p) => `occur_time >= ${p}`, filter.startTime);
  if (filter.endTime) add((p) => `occur_time < ${p}`, filter.endTime);
  if (cursor) {
    args.push(cursor.occurTime, cursor.eventId);
    where.push(`(occur_time, event_id) < ($${args.length - 1}, $${args.length}::uuid)`);
  }
  args.push(limit);
  const { rows } = await pool.query<AuditRow>(
    `SELECT event_id, type, actor, resource, occur_time, payload_json::text AS payload_json
     FROM jobs.audit_events
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY occur_time DESC, event_id DESC
     LIMIT $${args.length}`,
    args,
  );
  return rows;
}
