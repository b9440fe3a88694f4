// The kit's pools name every parameterised statement (db/prepared.ts), on a real Postgres: the
// statements really are prepared on the connection, `*` results are left unnamed so a column
// added under them changes nothing, at most MAX_PER_CONNECTION are prepared per connection, and
// every calling form of pg's query keeps working.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdmittedPool } from "../src/db/admission.js";
import { createPool } from "../src/db/database.js";
import { MAX_PER_CONNECTION, statementName } from "../src/db/prepared.js";
import { captureLogger, testDatabaseUrl } from "../src/testing/index.js";

const { log } = captureLogger();
const table = `prep_${process.pid}_${Date.now()}`;
let pool: AdmittedPool;

/** The statements prepared on the pool's one connection. */
const prepared = async () =>
  (
    await pool.query<{ name: string; statement: string }>(
      "SELECT name, statement FROM pg_prepared_statements",
    )
  ).rows;

beforeAll(async () => {
  pool = createPool(testDatabaseUrl(), 1, log, "test");
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL)`);
  await pool.query(`INSERT INTO ${table} SELECT i, 'n' || i FROM generate_series(1, 10) i`);
});
afterAll(async () => {
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

describe("prepared statements", () => {
  it("names statements by their text, and leaves `*` results unnamed", () => {
    const a = statementName("SELECT name FROM t WHERE id = $1");
    expect(a).toMatch(/^fm_[0-9a-f]{24}$/);
    expect(statementName("SELECT name FROM t WHERE id = $1")).toBe(a);
    expect(statementName("SELECT name FROM t WHERE id = $2")).not.toBe(a);
    for (const star of [
      "SELECT * FROM t WHERE id = $1",
      "select distinct * from t where id = $1",
      "UPDATE t SET name = $2 WHERE id = $1 RETURNING *",
      "SELECT t.*, u.x FROM t JOIN u ON u.id = t.id WHERE t.id = $1",
      "SELECT a, * FROM t WHERE id = $1",
    ])
      expect(statementName(star), star).toBeUndefined();
    expect(statementName("SELECT count(*) AS n FROM t WHERE id > $1")).toBeDefined();
    expect(statementName("SELECT id * 2 AS d FROM t WHERE id = $1")).toBeDefined();
  });

  it("prepares parameterised statements once on the connection, in every calling form", async () => {
    const text = `SELECT name FROM ${table} WHERE id = $1`;
    expect((await pool.query(text, [3])).rows).toEqual([{ name: "n3" }]);
    expect((await pool.query({ text, values: [4] })).rows).toEqual([{ name: "n4" }]);
    expect((await pool.query({ text, values: [5], rowMode: "array" })).rows).toEqual([["n5"]]);
    const client = await pool.connect();
    try {
      const viaCallback = await new Promise<unknown>((resolve, reject) =>
        client.query(text, [6], (err, res) => (err ? reject(err) : resolve(res.rows))),
      );
      expect(viaCallback).toEqual([{ name: "n6" }]);
    } finally {
      client.release();
    }
    const mine = (await prepared()).filter((p) => p.statement === text);
    expect(mine.map((p) => p.name)).toEqual([statementName(text)]);
    // No parameters, nothing to reuse: left unnamed.
    await pool.query(`SELECT count(*) FROM ${table}`);
    expect((await prepared()).some((p) => p.statement.includes("count(*)"))).toBe(false);
  });

  it("keeps answering when a migration adds a column under prepared statements", async () => {
    const named = `SELECT id, name FROM ${table} WHERE id = $1`;
    const star = `SELECT * FROM ${table} WHERE id = $1`;
    expect((await pool.query(named, [1])).rows).toEqual([{ id: 1, name: "n1" }]);
    expect((await pool.query(star, [1])).rows).toEqual([{ id: 1, name: "n1" }]);
    await pool.query(`ALTER TABLE ${table} ADD COLUMN extra int NOT NULL DEFAULT 7`);
    expect((await pool.query(named, [1])).rows).toEqual([{ id: 1, name: "n1" }]);
    expect((await pool.query(star, [1])).rows).toEqual([{ id: 1, name: "n1", extra: 7 }]);
  });

  it("prepares at most MAX_PER_CONNECTION statements on a connection; the rest still answer", async () => {
    const before = (await prepared()).length;
    for (let i = 0; i < MAX_PER_CONNECTION + 20; i++) {
      const { rows } = await pool.query(`SELECT name, ${i} AS i FROM ${table} WHERE id = $1`, [2]);
      expect(rows).toEqual([{ name: "n2", i }]);
    }
    const after = (await prepared()).length;
    expect(after).toBe(MAX_PER_CONNECTION);
    expect(after).toBeGreaterThan(before);
  });
});
