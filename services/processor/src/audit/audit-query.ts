// ListAuditEvents: request validation, opaque page tokens bound to the filter, row → proto.
import { createHash } from "node:crypto";
import type { processorv1 } from "@filemesh/contracts";
import { invalidArgument } from "@filemesh/kit";
import type pg from "pg";
import { type AuditCursor, type AuditFilter, type AuditRow, listAuditEvents } from "./audit-store.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
const MAX_FILTER = 512;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const bad = (reason: string, field: string, description: string) =>
  invalidArgument(reason, `${field} ${description}`, [{ field, description }]);

function filterOf(req: processorv1.ListAuditEventsRequest): AuditFilter {
  const f: AuditFilter = {};
  for (const key of ["actor", "resource", "type"] as const) {
    const v = req[key].trim();
    if (v.length > MAX_FILTER) throw bad("INVALID_FILTER", key, `is longer than ${MAX_FILTER} characters`);
    if (v) f[key] = v;
  }
  for (const [key, field] of [
    ["startTime", "start_time"],
    ["endTime", "end_time"],
  ] as const) {
    const t = req[key];
    if (t === undefined) continue;
    if (Number.isNaN(t.getTime())) throw bad("INVALID_TIME", field, "is not a valid time");
    f[key] = t;
  }
  if (f.startTime && f.endTime && f.startTime >= f.endTime) {
    throw bad("INVALID_TIME_RANGE", "end_time", "must be after start_time");
  }
  return f;
}

/** The filter a token belongs to: a token from another query is refused. */
const filterKey = (f: AuditFilter) =>
  createHash("sha256")
    .update(
      JSON.stringify([f.actor, f.resource, f.type, f.startTime?.toISOString(), f.endTime?.toISOString()]),
    )
    .digest("base64url")
    .slice(0, 16);

const invalidToken = () => bad("INVALID_PAGE_TOKEN", "page_token", "is not a token this list returned");

export function encodePageToken(f: AuditFilter, c: AuditCursor): string {
  return Buffer.from(
    JSON.stringify({ v: 1, f: filterKey(f), t: c.occurTime.toISOString(), id: c.eventId }),
  ).toString("base64url");
}

export function decodePageToken(f: AuditFilter, token: string): AuditCursor | undefined {
  if (token === "") return undefined;
  if (token.length > 512) throw invalidToken();
  let parsed: { v?: unknown; f?: unknown; t?: unknown; id?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidToken();
  }
  if (parsed?.v !== 1 || parsed.f !== filterKey(f) || typeof parsed.t !== "string") throw invalidToken();
  const occurTime = new Date(parsed.t);
  if (Number.isNaN(occurTime.getTime()) || typeof parsed.id !== "string" || !UUID.test(parsed.id)) {
    throw invalidToken();
  }
  return { occurTime, eventId: parsed.id };
}

function toAuditEvent(r: AuditRow): processorv1.AuditEvent {
  return {
    eventId: r.event_id,
    type: r.type,
    actor: r.actor,
    resource: r.resource,
    occurTime: r.occur_time,
    payloadJson: r.payload_json ?? "",
  };
}

export async function queryAuditEvents(
  pool: pg.Pool,
  req: processorv1.ListAuditEventsRequest,
): Promise<processorv1.ListAuditEventsResponse> {
  if (req.pageSize < 0) throw bad("INVALID_PAGE_SIZE", "page_size", "must not be negative");
  const size = Math.min(req.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const filter = filterOf(req);
  const cursor = decodePageToken(filter, req.pageToken);
  const rows = await listAuditEvents(pool, filter, size + 1, cursor);
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  const more = rows.length > size && last !== undefined;
  return {
    events: page.map(toAuditEvent),
    nextPageToken: more
      ? encodePageToken(filter, { occurTime: last.occur_time, eventId: last.event_id })
      : "",
  };
}
