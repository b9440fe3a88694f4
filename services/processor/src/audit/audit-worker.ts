// The audit log's workers: one durable consumer per domain stream storing every event once by
// its id (the insert is the idempotency record). Meta is read from field 1 of any payload, so
// an event type this build does not know is still recorded (without its JSON).
import type { ConsumedEvent, Logger, StreamDef } from "@filemesh/kit";
import type pg from "pg";
import { decodeMeta, payloadJson } from "../events/decode.js";
import { PoisonError, type Worker } from "../events/workers.js";
import { type AuditRecord, insertAuditEvent } from "./audit-store.js";

/** Postgres text and jsonb cannot hold NUL: it becomes U+FFFD (the raw payload keeps the bytes). */
const clean = (s: string) => s.replaceAll("\u0000", "\ufffd");
const cleanJson = (s: string | undefined) => s?.replaceAll("\\u0000", "\\ufffd");

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The audit row of an event; PoisonError when it cannot be one. */
export function auditRecord(stream: string, event: ConsumedEvent, now = new Date()): AuditRecord {
  if (!UUID.test(event.id))
    throw new PoisonError(`event id ${JSON.stringify(event.id.slice(0, 60))} is not a UUID`);
  let meta: ReturnType<typeof decodeMeta>;
  let json: string | undefined;
  try {
    meta = decodeMeta(event.payload);
    json = payloadJson(event.type, event.payload);
  } catch (err) {
    throw new PoisonError(`undecodable ${event.type || "event"}: ${(err as Error).message}`);
  }
  if (meta?.eventId && meta.eventId.toLowerCase() !== event.id.toLowerCase()) {
    throw new PoisonError(`meta.eventId ${meta.eventId} differs from the message id ${event.id}`);
  }
  return {
    eventId: event.id.toLowerCase(),
    type: clean(event.subject),
    protoType: clean(event.type),
    actor: clean(meta?.actor ?? ""),
    resource: clean(meta?.resource ?? ""),
    occurTime: meta?.occurTime && !Number.isNaN(meta.occurTime.getTime()) ? meta.occurTime : now,
    requestId: clean(meta?.requestId ?? ""),
    traceparent: clean(meta?.traceparent || event.traceparent || ""),
    payload: event.payload,
    payloadJson: cleanJson(json),
    stream,
    streamSeq: event.streamSeq,
  };
}

export function auditWorkers(o: {
  prefix: string;
  streams: readonly StreamDef[];
  pool: pg.Pool;
  log: Logger;
}): Worker[] {
  return o.streams.map((s) => ({
    name: `${o.prefix}-audit-${s.name.toLowerCase()}`,
    stream: s.name,
    maxMessages: 64,
    async handle(event) {
      const stored = await insertAuditEvent(o.pool, auditRecord(s.name, event));
      if (!stored) o.log.debug({ eventId: event.id }, "audit event already stored");
    },
  }));
}
