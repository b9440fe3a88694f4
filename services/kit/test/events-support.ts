// Shared helpers for the events-*.test.ts suites: unique schemas and streams, a private
// nats-server for fault tests, reading a stream back, waiting for a condition.
import { randomBytes } from "node:crypto";
import { eventsv1 } from "@filemesh/contracts";
import type { JetStreamManager } from "@nats-io/jetstream";
import pg from "pg";
import { pino } from "pino";
import type { Registry } from "prom-client";
import { PreparingClient } from "../src/db/prepared.js";
import {
  appendEvents,
  makeEvent,
  newEventMeta,
  type OutboxEvent,
  outboxTableSql,
} from "../src/events/index.js";
import type { StreamDef } from "../src/events/streams.js";

export const PG_URL =
  process.env["TEST_DATABASE_URL"] ??
  process.env["DATABASE_URL"] ??
  "postgres://postgres@127.0.0.1:5432/test";
export const NATS_URL = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";
export const log = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });

export const uniq = (): string => randomBytes(5).toString("hex");

/** A pool whose idle-client errors (terminated backends) are expected, not fatal. */
export function testPool(applicationName: string, max = 5): pg.Pool {
  // The services' Client (kit db/prepared.ts): the relay's transactions are pipelined there.
  const pool = new pg.Pool({
    connectionString: PG_URL,
    application_name: applicationName,
    max,
    Client: PreparingClient,
  });
  pool.on("error", () => undefined);
  return pool;
}

/** Creates `t_outbox_<random>` with the outbox table; returns its name. */
export async function createOutboxSchema(pool: pg.Pool): Promise<string> {
  const schema = `t_outbox_${uniq()}`;
  await pool.query(`CREATE SCHEMA "${schema}"`);
  await pool.query(outboxTableSql(schema));
  return schema;
}

export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** A stream of this test only: name `T_<ID>`, subjects `t<id>.>`. */
export function testStreamDef(id: string): StreamDef {
  return {
    name: `T_${id.toUpperCase()}`,
    subjects: [`t${id}.>`],
    duplicateWindowMs: 2 * 60 * 1000,
    maxAgeMs: 60 * 60 * 1000,
    maxBytes: -1,
    replicas: 1,
  };
}

/** A UserRegistered event on `<prefix>.users.user_registered`. */
export function userEvent(prefix: string, n: number): OutboxEvent {
  const meta = newEventMeta({ actor: "service:test", resource: `user:${n}`, traceparent: "" });
  return makeEvent(
    `${prefix}.users.user_registered`,
    "filemesh.events.v1.UserRegistered",
    eventsv1.UserRegistered,
    {
      meta,
      userId: String(n),
      email: `u${n}@example.test`,
      displayName: `User ${n}`,
    },
  );
}

/** Writes `count` events in one transaction; commits (default) or rolls back. Returns the ids. */
export async function writeEvents(
  pool: pg.Pool,
  schema: string,
  prefix: string,
  count: number,
  opts: { rollback?: boolean } = {},
): Promise<string[]> {
  const events = Array.from({ length: count }, (_, i) => userEvent(prefix, i));
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await appendEvents(client, schema, events);
    await client.query(opts.rollback ? "ROLLBACK" : "COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return events.map((e) => e.id);
}

/** Every message id (`Nats-Msg-Id`) stored in the stream, in stream order. */
export async function streamIds(jsm: JetStreamManager, stream: string): Promise<string[]> {
  const { state } = await jsm.streams.info(stream);
  const ids: string[] = [];
  if (state.messages === 0) return ids;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) ids.push(m.header.get("Nats-Msg-Id"));
  }
  return ids;
}

export async function unpublishedCount(pool: pg.Pool, schema: string): Promise<number> {
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n FROM "${schema}".outbox WHERE published_at IS NULL`,
  );
  return rows[0].n;
}

export async function metricValue(registry: Registry, name: string, schema: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return Number.NaN;
  const { values } = await metric.get();
  return values.find((v) => v.labels["schema"] === schema)?.value ?? 0;
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs` (a deadline, not a measurement). */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { freePort, type OwnNats, ownNatsServer } from "../src/testing/nats.js";
