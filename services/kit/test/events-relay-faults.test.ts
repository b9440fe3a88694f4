// The relay under faults: NATS killed and restarted, a relay dying between publish and commit,
// concurrent relays, the LISTEN connection cut. Real Postgres; a private nats-server where killed.
import type { JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, ensureStreams, type NatsHandle, startRelay } from "../src/events/index.js";
import {
  createOutboxSchema,
  dropSchema,
  log,
  metricValue,
  NATS_URL,
  ownNatsServer,
  streamIds,
  testPool,
  testStreamDef,
  uniq,
  unpublishedCount,
  waitFor,
  writeEvents,
} from "./events-support.js";

const PUBLISHED = "filemesh_outbox_published_total";
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function terminateBackends(
  pool: pg.Pool,
  applicationName: string,
  onlyListen = false,
): Promise<number[]> {
  const { rows } = await pool.query(
    `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE application_name = $1 AND ($2::boolean IS FALSE OR query LIKE 'LISTEN%')`,
    [applicationName, onlyListen],
  );
  return rows.map((r) => r.pid);
}

async function listenPids(pool: pg.Pool, applicationName: string): Promise<number[]> {
  const { rows } = await pool.query(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
    [applicationName],
  );
  return rows.map((r) => r.pid);
}

function expectExactlyOnce(streamed: string[], committed: string[], rolledBack: string[] = []) {
  const mine = new Set(committed);
  const ours = streamed.filter((id) => mine.has(id));
  expect(ours.length).toBe(committed.length);
  expect(new Set(ours).size).toBe(committed.length);
  expect([...ours].sort()).toEqual([...committed].sort());
  expect(streamed.filter((id) => rolledBack.includes(id))).toEqual([]);
}

describe("relay under faults", () => {
  let pool: pg.Pool;
  const schemas: string[] = [];
  const newSchema = async () => {
    const s = await createOutboxSchema(pool);
    schemas.push(s);
    return s;
  };

  beforeAll(() => {
    pool = testPool(`events-faults-${uniq()}`);
  });

  afterAll(async () => {
    for (const s of schemas) await dropSchema(pool, s);
    await pool.end();
  });

  it("delivers every committed event exactly once across a NATS kill -9 and restart", async () => {
    const id = uniq();
    const server = await ownNatsServer();
    const nats = await connectNats({
      url: server.url,
      name: `test-${id}`,
      log,
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
      timeoutMs: 2000,
    });
    const schema = await newSchema();
    const registry = new Registry();
    const def = testStreamDef(id);
    const relay = startRelay({
      pool,
      schema,
      js: nats.js,
      log,
      registry,
      batchSize: 20,
      pollIntervalMs: 100,
      publishTimeoutMs: 1000,
      backoffMinMs: 50,
      backoffMaxMs: 500,
      isConnected: nats.isConnected,
    });
    try {
      await ensureStreams(nats.jsm, [def]);
      const committed: string[] = [];
      const rolledBack: string[] = [];
      let backlogDuringOutage = 0;
      for (let tx = 0; tx < 50; tx++) {
        committed.push(...(await writeEvents(pool, schema, `t${id}`, 10)));
        if (tx % 10 === 5)
          rolledBack.push(...(await writeEvents(pool, schema, `t${id}`, 3, { rollback: true })));
        if (tx === 15) {
          await waitFor(
            "relay under way",
            async () => (await metricValue(registry, PUBLISHED, schema)) >= 50,
          );
          await server.kill();
        }
        if (tx === 35) {
          backlogDuringOutage = await unpublishedCount(pool, schema);
          await server.start();
        }
        await pause(5);
      }
      expect(committed.length).toBe(500);
      // Everything written while NATS was down waited in the outbox.
      expect(backlogDuringOutage).toBeGreaterThanOrEqual(190);

      await waitFor("outbox drained", async () => (await unpublishedCount(pool, schema)) === 0, 90_000);
      await waitFor(
        "backlog gauge 0",
        async () => (await metricValue(registry, "filemesh_outbox_backlog", schema)) === 0,
      );
      const streamed = await streamIds(nats.jsm, def.name);
      expect(streamed.length).toBe(500);
      expectExactlyOnce(streamed, committed, rolledBack);
    } finally {
      await relay.stop();
      await nats.close();
      await server.cleanup();
    }
  }, 180_000);

  it("loses and duplicates nothing when a relay dies between publish and commit and two others take over", async () => {
    const id = uniq();
    const nats: NatsHandle = await connectNats({ url: NATS_URL, name: `test-${id}`, log });
    const def = testStreamDef(id);
    await ensureStreams(nats.jsm, [def]);
    const schema = await newSchema();
    const committed: string[] = [];
    for (let tx = 0; tx < 4; tx++) committed.push(...(await writeEvents(pool, schema, `t${id}`, 50)));

    // Relay A publishes two batches normally; in its third it publishes, then "hangs" before
    // marking the rows, and its Postgres sessions are killed: a crash after publish, before commit.
    const appA = `relayA-${id}`;
    const poolA = testPool(appA);
    let publishes = 0;
    let hung = 0;
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const jsA = Object.create(nats.js, {
      publish: {
        value: async (...args: Parameters<JetStreamClient["publish"]>) => {
          const ack = await nats.js.publish(...args);
          if (++publishes > 20) {
            hung++;
            await gate;
          }
          return ack;
        },
      },
    }) as JetStreamClient;
    const regs = { a: new Registry(), b: new Registry(), c: new Registry() };
    const relayA = startRelay({
      pool: poolA,
      schema,
      js: jsA,
      log,
      registry: regs.a,
      batchSize: 10,
      pollIntervalMs: 100,
    });
    const pools: pg.Pool[] = [poolA];
    const relays = [relayA];
    try {
      await waitFor("relay A stuck after its third batch", () => hung === 10);
      expect(await unpublishedCount(pool, schema)).toBe(180);
      expect((await streamIds(nats.jsm, def.name)).length).toBe(30);
      expect((await terminateBackends(pool, appA)).length).toBeGreaterThan(0);

      for (const [name, batchSize] of [
        ["b", 7],
        ["c", 5],
      ] as const) {
        const p = testPool(`relay${name}-${id}`);
        pools.push(p);
        relays.push(
          startRelay({
            pool: p,
            schema,
            js: nats.js,
            log,
            registry: regs[name],
            batchSize,
            pollIntervalMs: 100,
          }),
        );
      }
      await waitFor("outbox drained", async () => (await unpublishedCount(pool, schema)) === 0);
      release();
      for (const r of relays) await r.stop();

      const streamed = await streamIds(nats.jsm, def.name);
      expect(streamed.length).toBe(200);
      expectExactlyOnce(streamed, committed);
      // Each row was marked exactly once; A's third batch was republished by B or C.
      const a = await metricValue(regs.a, PUBLISHED, schema);
      const b = await metricValue(regs.b, PUBLISHED, schema);
      const c = await metricValue(regs.c, PUBLISHED, schema);
      expect(a).toBe(20);
      expect(a + b + c).toBe(200);
    } finally {
      release();
      for (const r of relays) await r.stop();
      for (const p of pools) await p.end();
      await nats.jsm.streams.delete(def.name).catch(() => undefined);
      await nats.close();
    }
  }, 60_000);

  it("re-opens its LISTEN connection when Postgres drops it and wakes on NOTIFY again", async () => {
    const id = uniq();
    const nats = await connectNats({ url: NATS_URL, name: `test-${id}`, log });
    const def = testStreamDef(id);
    await ensureStreams(nats.jsm, [def]);
    const schema = await newSchema();
    const app = `relayL-${id}`;
    const poolL = testPool(app);
    // No polling to speak of: only a notification can wake this relay once it is idle.
    const relay = startRelay({
      pool: poolL,
      schema,
      js: nats.js,
      log,
      batchSize: 50,
      pollIntervalMs: 3_600_000,
    });
    try {
      await waitFor("LISTEN connection", async () => (await listenPids(pool, app)).length === 1);
      const first = await writeEvents(pool, schema, `t${id}`, 5);
      await waitFor("first events published", async () => (await unpublishedCount(pool, schema)) === 0);

      const killed = await terminateBackends(pool, app, true);
      expect(killed.length).toBe(1);
      await waitFor("new LISTEN connection", async () => {
        const pids = await listenPids(pool, app);
        return pids.length === 1 && !killed.includes(pids[0]!);
      });
      const second = await writeEvents(pool, schema, `t${id}`, 5);
      await waitFor("second events published", async () => (await unpublishedCount(pool, schema)) === 0);
      expectExactlyOnce(await streamIds(nats.jsm, def.name), [...first, ...second]);
    } finally {
      await relay.stop();
      await poolL.end();
      await nats.jsm.streams.delete(def.name).catch(() => undefined);
      await nats.close();
    }
  }, 60_000);
});
