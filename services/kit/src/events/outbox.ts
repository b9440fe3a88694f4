import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/queryable.js";
import type { CallContext } from "../grpc/context.js";

/** One event on its way out: a row of `<schema>.outbox`, later a JetStream message. */
export interface OutboxEvent {
  /** UUID; also `Nats-Msg-Id` (JetStream dedupe) and the consumers' idempotency key. */
  id: string;
  /** e.g. `filemesh.auth.user_registered`. */
  subject: string;
  /** Full protobuf name of the payload, e.g. `filemesh.events.v1.UserRegistered`. */
  type: string;
  payload: Uint8Array;
  traceparent?: string;
}

/** Header names carried by every event message (besides `Nats-Msg-Id`). */
export const EVENT_TYPE_HEADER = "Filemesh-Event-Type";
export const TRACEPARENT_HEADER = "traceparent";

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,54}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The schema name, checked to be a plain lower-case identifier (it is spliced into SQL). */
export function checkSchema(schema: string): string {
  if (!SCHEMA_RE.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  return schema;
}

/** The LISTEN/NOTIFY channel the relay of `schema` waits on. */
export function outboxChannel(schema: string): string {
  return `outbox_${checkSchema(schema)}`;
}

/**
 * DDL for `<schema>.outbox` (idempotent; the schema itself must exist). `seq` gives a stable
 * claim order even for rows of one transaction; `next_attempt_at` delays a row that failed on
 * its own (a poison message) without holding back the rows behind it.
 */
export function outboxTableSql(schema: string): string {
  const s = `"${checkSchema(schema)}"`;
  return `CREATE TABLE IF NOT EXISTS ${s}.outbox (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  subject text NOT NULL,
  payload bytea NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  next_attempt_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON ${s}.outbox (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published_idx ON ${s}.outbox (published_at) WHERE published_at IS NOT NULL;
`;
}

/** The EventMeta fields the outbox relies on (ts-proto's `EventMeta` fits). */
export interface EventMetaLike {
  eventId: string;
  traceparent: string;
}

export interface NewEventMeta {
  eventId: string;
  occurTime: Date;
  actor: string;
  requestId: string;
  traceparent: string;
  resource: string;
}

/** A fresh `EventMeta` (new UUID, now) for a change made by `actor` on `resource`. */
export function newEventMeta(
  m: { actor: string; resource: string; requestId?: string; traceparent?: string },
  now: Date = new Date(),
): NewEventMeta {
  return {
    eventId: randomUUID(),
    occurTime: now,
    actor: m.actor,
    requestId: m.requestId ?? "",
    traceparent: m.traceparent ?? "",
    resource: m.resource,
  };
}

/**
 * `EventMeta` for a change made in a call: the caller (`user:<id>`, `service:<name>`, or
 * "anonymous") as actor unless `actor` is given, the call's request id and traceparent.
 */
export function eventMetaFromCall(
  ctx: Pick<CallContext, "requestId" | "traceparent" | "principal">,
  resource: string,
  actor?: string,
): NewEventMeta {
  return newEventMeta({
    actor: actor ?? ctx.principal?.subject ?? "anonymous",
    resource,
    requestId: ctx.requestId,
    ...(ctx.traceparent ? { traceparent: ctx.traceparent } : {}),
  });
}

/**
 * One line per event in a service:
 * `makeEvent("filemesh.auth.user_registered", "filemesh.events.v1.UserRegistered", eventsv1.UserRegistered, msg)`.
 * The id is the message's `meta.eventId`, so payload and row always agree.
 */
export function makeEvent<T extends { meta?: EventMetaLike | undefined }>(
  subject: string,
  type: string,
  codec: { encode(message: T): { finish(): Uint8Array } },
  message: T,
): OutboxEvent {
  const id = message.meta?.eventId ?? "";
  if (!UUID_RE.test(id)) throw new Error(`event ${type}: meta.eventId must be a UUID`);
  const traceparent = message.meta?.traceparent;
  return {
    id,
    subject,
    type,
    payload: codec.encode(message).finish(),
    ...(traceparent ? { traceparent } : {}),
  };
}

function eventHeaders(e: OutboxEvent): string {
  const h: Record<string, string> = { [EVENT_TYPE_HEADER]: e.type };
  if (e.traceparent) h[TRACEPARENT_HEADER] = e.traceparent;
  return JSON.stringify(h);
}

/**
 * Writes the events in the caller's transaction and notifies the relay, which Postgres
 * delivers only at COMMIT (never for a rollback). A repeated event id fails the transaction.
 */
export async function appendEvents(
  q: Queryable,
  schema: string,
  events: readonly OutboxEvent[],
): Promise<void> {
  if (events.length === 0) return;
  for (const e of events) {
    if (!UUID_RE.test(e.id)) throw new Error(`event ${e.type}: id must be a UUID`);
  }
  const s = `"${checkSchema(schema)}"`;
  await q.query(
    `WITH ins AS (
       INSERT INTO ${s}.outbox (id, subject, payload, headers)
       SELECT id, subject, payload, headers
       FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::jsonb[]) WITH ORDINALITY
         AS e(id, subject, payload, headers, ord)
       ORDER BY ord
       RETURNING 1
     )
     SELECT pg_notify($5, (SELECT count(*) FROM ins)::text)`,
    [
      events.map((e) => e.id),
      events.map((e) => e.subject),
      events.map((e) => Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength)),
      events.map(eventHeaders),
      outboxChannel(schema),
    ],
  );
}
