// Durable consumers: explicit ack after the effect commits, redelivery on failure, each event
// id applied once (consumed_events), work shared by two instances of one durable.
import { randomUUID } from "node:crypto";
import { headers } from "@nats-io/transport-node";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyOnce,
  type ConsumedEvent,
  connectNats,
  consumedEventsTableSql,
  ensureStreams,
  type NatsHandle,
  type RunningConsumer,
  runConsumer,
  type StreamDef,
} from "../src/events/index.js";
import {
  dropSchema,
  log,
  NATS_URL,
  ownNatsServer,
  testPool,
  testStreamDef,
  uniq,
  waitFor,
} from "./events-support.js";

describe("consumer", () => {
  const runId = uniq();
  const schema = `t_consumer_${runId}`;
  let pool: pg.Pool;
  let nats: NatsHandle;
  let def: StreamDef;

  const publish = async (subject: string, count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      const h = headers();
      h.set("Filemesh-Event-Type", "filemesh.events.v1.UserRegistered");
      await nats.js.publish(subject, new TextEncoder().encode(`payload-${i}`), { msgID: id, headers: h });
      ids.push(id);
    }
    return ids;
  };

  const drained = (durable: string) => async () => {
    const info = await nats.jsm.consumers.info(def.name, durable);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  };

  beforeAll(async () => {
    pool = testPool(`events-consumer-${runId}`);
    nats = await connectNats({ url: NATS_URL, name: `test-${runId}`, log });
    def = testStreamDef(runId);
    await ensureStreams(nats.jsm, [def]);
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(consumedEventsTableSql(schema));
    await pool.query(`CREATE TABLE "${schema}".applied (event_id uuid NOT NULL, type text NOT NULL)`);
  });

  afterAll(async () => {
    await nats.jsm.streams.delete(def.name).catch(() => undefined);
    await dropSchema(pool, schema);
    await nats.close();
    await pool.end();
  });

  it("applies each event once despite failures before and after the commit", async () => {
    const ids = await publish(`t${runId}.users.a`, 30);
    const failBefore = new Set(ids.slice(0, 5));
    const failAfter = new Set(ids.slice(5, 10));
    const tries = new Map<string, number>();
    const outcomes: boolean[] = [];
    const handle = async (e: ConsumedEvent) => {
      const n = (tries.get(e.id) ?? 0) + 1;
      tries.set(e.id, n);
      if (failBefore.has(e.id) && n === 1) throw new Error("transient failure before the effect");
      const applied = await applyOnce(pool, schema, "test", e.id, async (tx) => {
        await tx.query(`INSERT INTO "${schema}".applied (event_id, type) VALUES ($1, $2)`, [e.id, e.type]);
      });
      outcomes.push(applied);
      // The effect is committed but the process "dies" before acking: the event comes back.
      if (failAfter.has(e.id) && n === 1) throw new Error("crash after commit");
    };
    const durable = `d_${runId}_a`;
    const common = { js: nats.js, jsm: nats.jsm, stream: def.name, durable, log, handle, nakBackoffMs: [50] };
    const running: RunningConsumer[] = [
      await runConsumer({ ...common, filterSubject: `t${runId}.users.a` }),
      await runConsumer({ ...common, filterSubject: `t${runId}.users.a` }),
    ];
    try {
      await waitFor("consumer drained", async () => tries.size === 30 && (await drained(durable)()));
    } finally {
      for (const c of running) await c.stop();
    }
    const { rows } = await pool.query(
      `SELECT event_id, count(*)::int AS n, min(type) AS type FROM "${schema}".applied GROUP BY event_id`,
    );
    expect(rows.length).toBe(30);
    expect(rows.every((r) => r.n === 1 && r.type === "filemesh.events.v1.UserRegistered")).toBe(true);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
    for (const id of [...failBefore, ...failAfter]) expect(tries.get(id)).toBe(2);
    // 30 first applications, and the 5 redeliveries after a committed effect were skipped.
    expect(outcomes.filter((x) => x).length).toBe(30);
    expect(outcomes.filter((x) => !x).length).toBe(5);
  }, 30_000);

  it("acks without handling what alreadyApplied reports as done", async () => {
    const ids = await publish(`t${runId}.users.b`, 6);
    const done = new Set(ids.slice(0, 4));
    const handled: string[] = [];
    const durable = `d_${runId}_b`;
    const c = await runConsumer({
      js: nats.js,
      jsm: nats.jsm,
      stream: def.name,
      durable,
      filterSubject: `t${runId}.users.b`,
      log,
      alreadyApplied: async (id) => done.has(id),
      handle: async (e) => {
        handled.push(e.id);
      },
    });
    try {
      await waitFor("consumer drained", async () => handled.length === 2 && (await drained(durable)()));
    } finally {
      await c.stop();
    }
    expect(handled.sort()).toEqual(ids.slice(4).sort());

    // Starting again with another config updates the durable in place and keeps its position.
    const again = await runConsumer({
      js: nats.js,
      jsm: nats.jsm,
      stream: def.name,
      durable,
      filterSubject: `t${runId}.users.b`,
      log,
      ackWaitMs: 45_000,
      handle: async (e) => {
        handled.push(e.id);
      },
    });
    await again.stop();
    const info = await nats.jsm.consumers.info(def.name, durable);
    expect(info.config.ack_wait).toBe(45_000 * 1_000_000);
    expect(info.num_pending).toBe(0);
    expect(handled.length).toBe(2);
  }, 30_000);

  it("an event handled for longer than ACK_WAIT is not redelivered meanwhile (working() heartbeats)", async () => {
    // Two instances of one durable: the idle one would get the slow event again the moment
    // its ack wait ran out, if nothing told JetStream it is being worked on.
    const [id] = await publish(`t${runId}.users.c`, 1);
    const deliveries: number[] = [];
    const durable = `d_${runId}_c`;
    const common = {
      js: nats.js,
      jsm: nats.jsm,
      stream: def.name,
      durable,
      filterSubject: `t${runId}.users.c`,
      log,
      ackWaitMs: 1000,
      maxMessages: 1,
      handle: async (e: ConsumedEvent) => {
        deliveries.push(e.deliveryCount);
        if (e.id === id) await new Promise((r) => setTimeout(r, 3500));
      },
    };
    const running = [await runConsumer(common), await runConsumer(common)];
    try {
      await waitFor("consumer drained", async () => deliveries.length >= 1 && (await drained(durable)()));
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      for (const c of running) await c.stop();
    }
    expect(deliveries).toEqual([1]);
    const info = await nats.jsm.consumers.info(def.name, durable);
    expect(info.num_redelivered).toBe(0);
  }, 30_000);

  it("keeps consuming after NATS is killed and restarted", async () => {
    const server = await ownNatsServer();
    const own = await connectNats({
      url: server.url,
      name: `test-${runId}-c`,
      log,
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
    });
    const streamDef = testStreamDef(uniq());
    const subject = `${streamDef.subjects[0]!.slice(0, -2)}.x`;
    const applied: string[] = [];
    const durable = `d_${runId}_c`;
    let c: RunningConsumer | undefined;
    try {
      await ensureStreams(own.jsm, [streamDef]);
      const send = async () => {
        const id = randomUUID();
        await own.js.publish(subject, new Uint8Array([1]), { msgID: id });
        return id;
      };
      c = await runConsumer({
        js: own.js,
        jsm: own.jsm,
        stream: streamDef.name,
        durable,
        log,
        handle: async (e) => {
          // kill -9 can lose the consumer's ack state, so some events come again: expected, skipped here.
          if (await applyOnce(pool, schema, durable, e.id, async () => undefined)) applied.push(e.id);
        },
      });
      const before = [await send(), await send(), await send()];
      await waitFor("first events applied", () => applied.length === 3);
      await server.kill();
      await server.start();
      await waitFor("reconnected", () => own.isConnected());
      const after: string[] = [];
      await waitFor(
        "publish after restart",
        async () => {
          after.push(await send());
          return true;
        },
        30_000,
      );
      after.push(await send());
      await waitFor("events after restart applied", () => applied.length === 5, 60_000);
      expect(applied.sort()).toEqual([...before, ...after].sort());
    } finally {
      await c?.stop();
      await own.close();
      await server.cleanup();
    }
  }, 90_000);
});
