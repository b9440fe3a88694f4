// A full Postgres pool on the real server answers UNAVAILABLE / DATABASE_BUSY with a retry
// hint (503 through the gateway), not INTERNAL: the error pg really throws is the one mapped.
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { decodeServiceError, toServiceError } from "../src/errors.js";
import { testDatabaseUrl } from "../src/testing/index.js";

const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1, connectionTimeoutMillis: 100 });
afterAll(() => pool.end());

describe("database faults as statuses", () => {
  it("a pool with no free client within its timeout is DATABASE_BUSY", async () => {
    const held = await pool.connect();
    try {
      const err = await pool.query("SELECT 1").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      const d = decodeServiceError(toServiceError(err));
      expect(d).toMatchObject({ code: status.UNAVAILABLE, reason: "DATABASE_BUSY", retryAfterMs: 1000 });
    } finally {
      held.release();
    }
  });

  it("a terminated backend is DATABASE_UNAVAILABLE", async () => {
    const client = await pool.connect();
    client.on("error", () => undefined);
    try {
      const { rows } = await client.query("SELECT pg_backend_pid() AS pid");
      const killer = new pg.Client({ connectionString: testDatabaseUrl() });
      await killer.connect();
      await killer.query("SELECT pg_terminate_backend($1)", [rows[0].pid]);
      await killer.end();
      const err = await client.query("SELECT 1").then(
        () => undefined,
        (e: unknown) => e,
      );
      const d = decodeServiceError(toServiceError(err));
      expect(d).toMatchObject({ code: status.UNAVAILABLE, reason: "DATABASE_UNAVAILABLE" });
    } finally {
      client.release(true);
    }
  });
});
