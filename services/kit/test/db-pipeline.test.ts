// A transaction's statements issued together go to Postgres as one pipeline (db/pipeline.ts),
// on a real Postgres: fewer round trips, each statement's own result, a failing statement
// stops the ones after it and rolls the transaction back, prepared statements stay known to the
// connection exactly when Postgres parsed them.
import type { PoolClient } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdmittedPool } from "../src/db/admission.js";
import { beforeCommit, createPool, inTransaction, settleAll } from "../src/db/database.js";
import { captureLogger, testDatabaseUrl } from "../src/testing/index.js";

const { log } = captureLogger();
const table = `pipe_${process.pid}_${Date.now()}`;
let pool: AdmittedPool;
let plain: AdmittedPool;

/** Round trips (ReadyForQuery messages) of `on`'s one connection (default: `pool`) while `fn` runs. */
async function trips<T>(fn: () => Promise<T>, on?: AdmittedPool): Promise<{ value: T; trips: number }> {
  const client = (await (on ?? pool).connect()) as PoolClient & { connection: NodeJS.EventEmitter };
  const connection = client.connection;
  client.release();
  let n = 0;
  const count = () => n++;
  connection.on("readyForQuery", count);
  try {
    return { value: await fn(), trips: n };
  } finally {
    connection.off("readyForQuery", count);
  }
}

const names = async () => (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n;

beforeAll(async () => {
  pool = createPool(testDatabaseUrl(), 1, log, "test");
  plain = createPool(testDatabaseUrl(), 1, log, "plain", undefined, false);
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL)`);
});
afterAll(async () => {
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
  await plain?.end();
});

describe("pipelined transactions", () => {
  it("sends BEGIN with the first statement, statements issued together in one trip, beforeCommit's with the COMMIT", async () => {
    const insert = `INSERT INTO ${table} (id, name) VALUES ($1, $2) RETURNING id, name`;
    const { value, trips: n } = await trips(() =>
      inTransaction(pool, async (tx) => {
        const [a, b, c] = await settleAll([
          tx.query(insert, [1, "a"]),
          tx.query(insert, [2, "b"]),
          tx.query(`SELECT count(*)::int AS n FROM ${table} WHERE id <= $1`, [2]),
        ]);
        beforeCommit(tx, tx.query(insert, [3, "c"]));
        return [a.rows, b.rows, c.rows, a.rowCount, a.command];
      }),
    );
    // Each statement's own result, the third seeing the two before it.
    expect(value).toEqual([[{ id: 1, name: "a" }], [{ id: 2, name: "b" }], [{ n: 2 }], 1, "INSERT"]);
    // BEGIN + three statements, then the fourth + COMMIT: two round trips (one at a time: six).
    expect(n).toBe(2);
    expect(await names()).toBe("3");
    // Prepared by name on the connection, once, though the insert ran three times.
    const { rows } = await pool.query<{ statement: string }>(
      "SELECT statement FROM pg_prepared_statements WHERE statement LIKE $1",
      [`INSERT INTO ${table}%`],
    );
    expect(rows).toHaveLength(1);
  });

  it("stops at a failing statement: the ones after it do not run and nothing commits", async () => {
    const before = await names();
    const insert = `INSERT INTO ${table} (id, name) VALUES ($1, $2)`;
    const outcome = await inTransaction(pool, async (tx) => {
      const results = await Promise.allSettled([
        tx.query(insert, [10, "x"]),
        tx.query(insert, [1, "duplicate"]), // id 1 exists
        tx.query(insert, [11, "y"]),
      ]);
      return results.map((r) => (r.status === "fulfilled" ? "ok" : (r.reason as { code: string }).code));
    }).catch((err: Error) => err.message);
    // The COMMIT after the aborted transaction is refused as a rollback, never a success.
    expect(outcome).toMatch(/rolled back at COMMIT/);
    expect(await names()).toBe(before);
    expect((await pool.query(`SELECT id FROM ${table} WHERE id IN (10, 11)`)).rowCount).toBe(0);
  });

  it("reports the failing statement's error to it and to those after it, and rolls back", async () => {
    const before = await names();
    const insert = `INSERT INTO ${table} (id, name) VALUES ($1, $2)`;
    const seen: string[] = [];
    const err = await inTransaction(pool, async (tx) => {
      const results = await Promise.allSettled([
        tx.query(insert, [20, "x"]),
        tx.query(insert, [1, "duplicate"]),
        tx.query(insert, [21, "y"]),
      ]);
      for (const r of results)
        seen.push(r.status === "fulfilled" ? "ok" : (r.reason as { code: string }).code);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    }).catch((e: { code?: string }) => e);
    expect(seen).toEqual(["ok", "23505", "23505"]);
    expect((err as { code?: string }).code).toBe("23505");
    expect(await names()).toBe(before);
    // The connection is whole afterwards.
    expect((await inTransaction(pool, (tx) => tx.query("SELECT 1 AS one"))).rows).toEqual([{ one: 1 }]);
  });

  it("fails the transaction when a beforeCommit statement fails, committing nothing", async () => {
    const before = await names();
    const err = await inTransaction(pool, async (tx) => {
      await tx.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2)`, [30, "kept?"]);
      beforeCommit(tx, tx.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2)`, [1, "duplicate"]));
      return "answered";
    }).catch((e: { code?: string }) => e);
    expect((err as { code?: string }).code).toBe("23505");
    expect(await names()).toBe(before);
  });

  it("knows which statements Postgres parsed when one in the middle does not parse", async () => {
    const good = `SELECT name FROM ${table} WHERE id = $1 AND $2::int > 0`;
    const bad = `SELECT nonsense FROM ${table} WHERE id = $1`;
    const after = `SELECT id FROM ${table} WHERE name = $1 AND $2::int > 0`;
    const err = await inTransaction(pool, (tx) =>
      settleAll([tx.query(good, [1, 1]), tx.query(bad, [1]), tx.query(after, ["a", 1])]),
    ).catch((e: { code?: string }) => e);
    expect((err as { code?: string }).code).toBe("42703"); // undefined column
    // `good` was parsed (named, not parsed again: no "already exists"), `after` was skipped
    // (parsed now, under its name).
    const again = await inTransaction(pool, (tx) =>
      settleAll([tx.query(good, [1, 1]), tx.query(after, ["a", 1])]),
    );
    expect(again.map((r) => r.rows)).toEqual([[{ name: "a" }], [{ id: 1 }]]);
  });

  it("keeps a lone statement and everything outside a transaction as before", async () => {
    const { trips: n } = await trips(() =>
      inTransaction(pool, async (tx) => {
        const a = await tx.query(`SELECT name FROM ${table} WHERE id = $1`, [2]);
        const b = await tx.query(`SELECT name FROM ${table} WHERE id = $1`, [3]);
        return [a.rows, b.rows];
      }),
    );
    expect(n).toBe(3); // BEGIN + first, second, COMMIT
    const [x, y] = await Promise.all([pool.query("SELECT 1 AS v"), pool.query("SELECT 2 AS v")]);
    expect([x.rows, y.rows]).toEqual([[{ v: 1 }], [{ v: 2 }]]);
  });

  it("pipelines as well on a pool without prepared statements, naming none", async () => {
    const { value: rows, trips: n } = await trips(
      () =>
        inTransaction(plain, async (tx) => {
          const [a, b] = await settleAll([
            tx.query(`SELECT name FROM ${table} WHERE id = $1`, [1]),
            tx.query(`SELECT name FROM ${table} WHERE id = $1`, [2]),
          ]);
          return [a.rows, b.rows];
        }),
      plain,
    );
    expect(rows).toEqual([[{ name: "a" }], [{ name: "b" }]]);
    expect(n).toBe(2); // BEGIN + both, then COMMIT
    expect((await plain.query("SELECT count(*)::int AS n FROM pg_prepared_statements")).rows).toEqual([
      { n: 0 },
    ]);
    const err = await inTransaction(plain, async (tx) => {
      beforeCommit(tx, tx.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2)`, [1, "duplicate"]));
    }).catch((e: { code?: string }) => e);
    expect((err as { code?: string }).code).toBe("23505");
  });
});

describe("settleAll", () => {
  it("waits for every branch, then throws the first failure in the order given", async () => {
    const order: string[] = [];
    const slow = new Promise<string>((resolve) =>
      setTimeout(() => {
        order.push("slow done");
        resolve("slow");
      }, 30),
    );
    const err = await settleAll([
      slow,
      Promise.reject(new Error("first")),
      Promise.reject(new Error("second")),
    ]).catch((e: Error) => {
      order.push("thrown");
      return e;
    });
    expect((err as Error).message).toBe("first");
    expect(order).toEqual(["slow done", "thrown"]);
    expect(await settleAll([Promise.resolve(1), Promise.resolve("x")])).toEqual([1, "x"]);
  });
});
