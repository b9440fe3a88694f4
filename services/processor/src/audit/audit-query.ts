// ListAuditEvents: request validation, page tokens (kit paging) bound to the admin and the
// filter, row → proto.
import type { processorv1 } from "@filemesh/contracts";
import {
  invalidArgument,
  invalidPageToken,
  type PageBinding,
  type PageTokens,
  pageSize,
  type Reason,
} from "@filemesh/kit";
import type pg from "pg";
import { type AuditCursor, type AuditFilter, type AuditRow, listAuditEvents } from "./audit-store.js";

export const DEFAULT_PAGE_SIZE = 50;
const MAX_FILTER = 512;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const bad = (reason: Reason, field: string, description: string) =>
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

/** A token resumes only the same admin's query with the same filter. */
const bindingOf = (caller: string, f: AuditFilter): PageBinding => ({
  list: "ListAuditEvents",
  caller,
  filter: [f.actor, f.resource, f.type, f.startTime?.toISOString(), f.endTime?.toISOString()].map(
    (v) => v ?? "",
  ),
});

function cursorOf(c: string[]): AuditCursor | undefined {
  if (c.length === 0) return undefined;
  const [t, id] = c;
  const occurTime = new Date(t ?? "");
  if (c.length !== 2 || Number.isNaN(occurTime.getTime()) || !id || !UUID.test(id)) throw invalidPageToken();
  return { occurTime, eventId: id };
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
  tokens: PageTokens,
  req: processorv1.ListAuditEventsRequest,
  caller: string,
): Promise<processorv1.ListAuditEventsResponse> {
  const size = pageSize(req.pageSize, { default: DEFAULT_PAGE_SIZE });
  const filter = filterOf(req);
  const binding = bindingOf(caller, filter);
  const cursor = cursorOf(tokens.read(req.pageToken, binding));
  const rows = await listAuditEvents(pool, filter, size + 1, cursor);
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  const more = rows.length > size && last !== undefined;
  return {
    events: page.map(toAuditEvent),
    nextPageToken: more ? tokens.issue(binding, [last.occur_time.toISOString(), last.event_id]) : "",
  };
}
