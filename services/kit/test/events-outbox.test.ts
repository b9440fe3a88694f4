// Outbox writes and the relay against the real Postgres and the shared NATS (own stream per run).
import { eventsv1 } from "@filemesh/contracts";
import type pg from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appendEvents,
  connectNats,
  ensureStreams,
  makeEvent,
  type NatsHandle,
  outboxChannel,
  type StreamDef,
  startRelay,
} from "../src/events/index.js";
import {
  createOutboxSchema,
  dropSchema,
  log,
  metricValue,
  NATS_URL,
  streamIds,
  testPool,
  testStreamDef,
  uniq,
  unpublishedCount,
  userEvent,
  waitFor,
  writeEvents,
} from "./events-support.js";

describe("outbox and relay", () => {
  const runId = uniq();
  const prefix = `t${runId}`;
  let pool: pg.Pool;
  let nats: NatsHandle;
  let def: StreamDef;
  const schemas: string[] = [];
  const newSchema = async () => {
    const s = await createOutboxSchema(pool);
    schemas.push(s);
    return s;
  };

  beforeAll(async () => {
    pool = testPool(`events-outbox-${runId}`);
    nats = await connectNats({ url: NATS_URL, name: `test-${runId}`, log });
    def = testStreamDef(runId);
    await ensureStreams(nats.jsm, [def]);
  });

  afterAll(async () => {
    await nats.jsm.streams.delete(def.name).catch(() => undefined);
    for (const s of schemas) await dropSchema(pool, s);
    await nats.close();
    await pool.end();
  });

  it("writes rows in the caller's transaction and notifies only on commit", async () => {
    const schema = await newSchema();
    const listener = await pool.connect();
    const notes: string[] = [];
    listener.on("notification", (n) => notes.push(n.payload ?? ""));
    await listener.query(`LISTEN "${outboxChannel(schema)}"`);
    try {
      const committed = await writeEvents(pool, schema, prefix, 3);
      const rolledBack = await writeEvents(pool, schema, prefix, 2, { rollback: true });
      await listener.query(`SELECT pg_notify($1, 'marker')`, [outboxChannel(schema)]);
      await waitFor("marker notification", () => notes.includes("marker"));
      expect(notes).toEqual(["3", "marker"]);

      const { rows } = await pool.query(
        `SELECT id, subject, payload, headers FROM "${schema}".outbox ORDER BY seq`,
      );
      expect(rows.map((r) => r.id)).toEqual(committed);
      expect(rows.some((r) => rolledBack.includes(r.id))).toBe(false);
      const first = rows[0];
      expect(first.subject).toBe(`${prefix}.users.user_registered`);
      expect(first.headers).toEqual({ "Filemesh-Event-Type": "filemesh.events.v1.UserRegistered" });
      const decoded = eventsv1.UserRegistered.decode(first.payload);
      expect(decoded.meta?.eventId).toBe(committed[0]);
      expect(decoded.email).toBe("u0@example.test");
    } finally {
      await listener.query("UNLISTEN *");
      listener.release();
    }
  });

  it("refuses a repeated event id and an id that is not a UUID", async () => {
    const schema = await newSchema();
    const e = userEvent(prefix, 1);
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await expect(appendEvents(client, schema, [e, e])).rejects.toMatchObject({ code: "23505" });
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    expect(await unpublishedCount(pool, schema)).toBe(0);
    expect(() =>
      makeEvent("x.y", "filemesh.events.v1.PasswordChanged", eventsv1.PasswordChanged, {
        meta: {
          eventId: "not-a-uuid",
          actor: "",
          requestId: "",
          traceparent: "",
          resource: "",
          occurTime: new Date(),
        },
        userId: "u1",
      }),
    ).toThrow(/UUID/);
  });

  it("publishes each committed event exactly once and never a rolled-back one", async () => {
    const schema = await newSchema();
    const a = await writeEvents(pool, schema, prefix, 5);
    const rolledBack = await writeEvents(pool, schema, prefix, 4, { rollback: true });
    const b = await writeEvents(pool, schema, prefix, 7);
    const committed = [...a, ...b];
    // Three rows were published before but their acks were "lost": the relay sends them again.
    for (const id of a.slice(0, 3)) {
      await nats.js.publish(`${prefix}.users.user_registered`, new Uint8Array([1]), { msgID: id });
    }

    const registry = new Registry();
    const relay = startRelay({ pool, schema, js: nats.js, log, registry, batchSize: 4, pollIntervalMs: 100 });
    try {
      await waitFor("outbox drained", async () => (await unpublishedCount(pool, schema)) === 0);
      await waitFor(
        "backlog gauge 0",
        async () => (await metricValue(registry, "filemesh_outbox_backlog", schema)) === 0,
      );
    } finally {
      await relay.stop();
    }
    const mine = new Set(committed);
    const ids = await streamIds(nats.jsm, def.name);
    const ours = ids.filter((id) => mine.has(id));
    expect(ours.length).toBe(committed.length);
    expect(new Set(ours).size).toBe(committed.length);
    expect([...ours].sort()).toEqual([...committed].sort());
    expect(ids.some((id) => rolledBack.includes(id))).toBe(false);
    expect(await metricValue(registry, "filemesh_outbox_published_total", schema)).toBe(committed.length);
  });

  it("lets the commits of its coalescing window go out in one round", async () => {
    const schema = await newSchema();
    const registry = new Registry();
    // Idle (a long poll), then five commits 40 ms apart, each its own transaction and NOTIFY,
    // inside the window that the first NOTIFY opens.
    const relay = startRelay({
      pool,
      schema,
      js: nats.js,
      log,
      registry,
      pollIntervalMs: 10_000,
      coalesceMs: 400,
    });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(...(await writeEvents(pool, schema, prefix, 1)));
        await new Promise((r) => setTimeout(r, 40)); // 160 ms in all: each alone, without the window
      }
      await waitFor("outbox drained", async () => (await unpublishedCount(pool, schema)) === 0);
      expect(await metricValue(registry, "filemesh_outbox_published_total", schema)).toBe(5);
      expect(await metricValue(registry, "filemesh_outbox_batches_total", schema)).toBe(1);
      const stream = new Set(await streamIds(nats.jsm, def.name));
      expect(ids.every((id) => stream.has(id))).toBe(true);
    } finally {
      await relay.stop();
    }
  });

  it("sets messages no stream accepts aside, even a whole batch of them, and publishes the rest", async () => {
    const schema = await newSchema();
    // More poison rows than one batch, ahead of good ones and mixed with them.
    const poison = Array.from({ length: 12 }, (_, i) => ({
      ...userEvent(prefix, i),
      subject: `nostream${runId}.x`,
    }));
    await appendEvents(pool, schema, poison.slice(0, 11));
    const good = await writeEvents(pool, schema, prefix, 5);
    await appendEvents(pool, schema, poison.slice(11));
    const good2 = await writeEvents(pool, schema, prefix, 3);
    const registry = new Registry();
    const relay = startRelay({
      pool,
      schema,
      js: nats.js,
      log,
      registry,
      batchSize: 10,
      pollIntervalMs: 100,
    });
    try {
      await waitFor("good rows published", async () => (await unpublishedCount(pool, schema)) === 12);
      await waitFor(
        "backlog gauge 12",
        async () => (await metricValue(registry, "filemesh_outbox_backlog", schema)) === 12,
      );
    } finally {
      await relay.stop();
    }
    const { rows } = await pool.query(
      `SELECT id, attempts, last_error, next_attempt_at FROM "${schema}".outbox WHERE published_at IS NULL`,
    );
    expect(rows.map((r) => r.id).sort()).toEqual(poison.map((p) => p.id).sort());
    for (const r of rows) {
      expect(r.attempts).toBeGreaterThanOrEqual(1);
      expect(r.last_error).toBeTruthy();
      expect(r.next_attempt_at).not.toBeNull();
    }
    expect(
      await metricValue(registry, "filemesh_outbox_publish_errors_total", schema),
    ).toBeGreaterThanOrEqual(12);
    const ids = await streamIds(nats.jsm, def.name);
    expect([...good, ...good2].every((id) => ids.includes(id))).toBe(true);
    expect(ids.some((id) => poison.some((p) => p.id === id))).toBe(false);
  });

  it("prunes published rows past retention and nothing else", async () => {
    const schema = await newSchema();
    const ids = await writeEvents(pool, schema, prefix, 6);
    const relay = startRelay({ pool, schema, js: nats.js, log, batchSize: 10, pollIntervalMs: 100 });
    try {
      await waitFor("published", async () => (await unpublishedCount(pool, schema)) === 0);
      await pool.query(
        `UPDATE "${schema}".outbox SET published_at = now() - interval '2 days' WHERE id = ANY($1::uuid[])`,
        [ids.slice(0, 4)],
      );
      await pool.query(
        `UPDATE "${schema}".outbox SET published_at = NULL, next_attempt_at = now() + interval '1 day'
        WHERE id = $1`,
        [ids[5]],
      );
      expect(await relay.pruneOnce()).toBe(4);
      expect(await relay.pruneOnce()).toBe(0);
    } finally {
      await relay.stop();
    }
    const { rows } = await pool.query(`SELECT id FROM "${schema}".outbox ORDER BY seq`);
    expect(rows.map((r) => r.id)).toEqual(ids.slice(4));
  });
});
