// request_id idempotency (kit db/idempotency.ts) on the real Postgres: a retry replays the first
// answer without running the write again; the same id with other parameters is refused; a
// concurrent retry waits for the first attempt and replays it, or runs itself when the first
// rolled back; ids are per caller and method; old records are pruned.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inTransaction } from "../src/db/database.js";
import {
  fingerprintOf,
  idCodec,
  oncePerRequest,
  oncePerRequestId,
  pruneRequests,
  requestIdOf,
  requestsTableSql,
} from "../src/db/idempotency.js";
import type { CallContext } from "../src/grpc/context.js";
import { testDatabaseUrl } from "../src/testing/index.js";

/** The reason of the AppError `p` rejects with. */
const reasonOf = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: { reason?: string }) => e.reason,
  );

const schema = `idem_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 6 });
beforeAll(async () => {
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.query(requestsTableSql(schema));
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA ${schema} CASCADE`);
  await pool.end();
});

const ctxOf = (subject: string, method = "CreateThing") =>
  ({ principal: { subject }, method: { method } }) as unknown as CallContext;

/** A write that counts its runs and answers with its run number. */
function counter() {
  let runs = 0;
  return {
    get runs() {
      return runs;
    },
    work: async () => String(++runs),
  };
}

const once = (ctx: CallContext, requestId: string, fingerprint: string, work: () => Promise<string>) =>
  inTransaction(pool, (tx) => oncePerRequestId(tx, { schema, ctx, requestId, fingerprint }, work));

describe("oncePerRequest", () => {
  it("runs once per request id and replays the first answer", async () => {
    const c = counter();
    const ctx = ctxOf("user:a");
    const fp = fingerprintOf("folder", "name");
    expect(await once(ctx, "r1", fp, c.work)).toEqual({ id: "1", replayed: false });
    expect(await once(ctx, "r1", fp, c.work)).toEqual({ id: "1", replayed: true });
    expect(c.runs).toBe(1);
    // Another id, another caller or another method runs again.
    expect((await once(ctx, "r2", fp, c.work)).id).toBe("2");
    expect((await once(ctxOf("user:b"), "r1", fp, c.work)).id).toBe("3");
    expect((await once(ctxOf("user:a", "OtherThing"), "r1", fp, c.work)).id).toBe("4");
    // No id: every call runs.
    expect((await once(ctx, "", fp, c.work)).id).toBe("5");
    expect((await once(ctx, "", fp, c.work)).id).toBe("6");
  });

  it("refuses the same id with other parameters, and malformed ids", async () => {
    const c = counter();
    const ctx = ctxOf("user:c");
    await once(ctx, "same", fingerprintOf("a"), c.work);
    expect(await reasonOf(once(ctx, "same", fingerprintOf("b"), c.work))).toBe("REQUEST_ID_REUSED");
    for (const bad of ["has space", "x".repeat(129), "slash/no", "ünïcode"]) {
      expect(await reasonOf(once(ctx, bad, fingerprintOf("a"), c.work)), bad).toBe("INVALID_REQUEST_ID");
      expect(() => requestIdOf(bad)).toThrow();
    }
    expect(requestIdOf("Az09._~:-")).toBe("Az09._~:-");
    expect(c.runs).toBe(1);
  });

  it("a concurrent retry waits for the first attempt: replays its commit, runs after its rollback", async () => {
    const ctx = ctxOf("user:d");
    const fp = fingerprintOf("x");
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const c = counter();
    const first = once(ctx, "slow", fp, async () => {
      await gate;
      return c.work();
    });
    await new Promise((r) => setTimeout(r, 100));
    const retry = once(ctx, "slow", fp, c.work);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.runs).toBe(0); // the retry is waiting on the claim
    release();
    expect(await first).toEqual({ id: "1", replayed: false });
    expect(await retry).toEqual({ id: "1", replayed: true });
    expect(c.runs).toBe(1);

    // The first attempt fails (rolls back): the waiting retry then makes the change itself.
    let fail!: () => void;
    const failing = new Promise<void>((_, reject) => {
      fail = () => reject(new Error("boom"));
    });
    const doomed = once(ctx, "rolled-back", fp, async () => {
      await failing;
      return "never";
    });
    await new Promise((r) => setTimeout(r, 100));
    const after = once(ctx, "rolled-back", fp, c.work);
    await new Promise((r) => setTimeout(r, 100));
    fail();
    await expect(doomed).rejects.toThrow("boom");
    expect(await after).toEqual({ id: "2", replayed: false });
  });

  it("keeps any answer with a codec, and forgets records past their retention", async () => {
    const ctx = ctxOf("user:e");
    const codec = {
      encode: (v: { n: number }) => Buffer.from(JSON.stringify(v)),
      decode: (b: Uint8Array) => JSON.parse(Buffer.from(b).toString()) as { n: number },
    };
    let n = 0;
    const run = () =>
      inTransaction(pool, (tx) =>
        oncePerRequest(tx, { schema, ctx, requestId: "kept", fingerprint: "f", codec }, async () => ({
          n: ++n,
        })),
      );
    expect(await run()).toEqual({ value: { n: 1 }, replayed: false });
    expect(await run()).toEqual({ value: { n: 1 }, replayed: true });
    expect(idCodec.decode(idCodec.encode("id-1"))).toBe("id-1");
    await pool.query(
      `UPDATE ${schema}.requests SET create_time = now() - interval '2 hours' WHERE request_id = 'kept'`,
    );
    expect(await pruneRequests(pool, schema, 3_600_000)).toBeGreaterThanOrEqual(1);
    expect(await run()).toEqual({ value: { n: 2 }, replayed: false });
  });
});
