// files.usage changes on the real Postgres (store/usage.ts, store/reservations.ts): each change
// is one statement when the user's row exists, and a user without a row yet (concurrent first
// uploads, transactions that have not committed) gets exactly one row holding every change.
import { randomUUID } from "node:crypto";
import { createPool, inTransaction } from "@filemesh/kit";
import { captureLogger, testDatabaseUrl } from "@filemesh/kit/testing";
import { afterAll, describe, expect, it } from "vitest";
import { growReservation } from "../src/store/reservations.js";
import { adjust, claim } from "../src/store/usage.js";

const { log } = captureLogger();
const pool = createPool(testDatabaseUrl(), 8, log, "test", 10_000);
afterAll(() => pool.end());

const usage = async (userId: string) =>
  (
    await pool.query(
      "SELECT used_bytes::int AS used, reserved_bytes::int AS reserved, file_count::int AS files FROM files.usage WHERE user_id = $1",
      [userId],
    )
  ).rows;

/** Counts the statements `fn` sends through its client. */
async function statements(fn: (q: { query: typeof pool.query }) => Promise<unknown>): Promise<number> {
  const c = await pool.connect();
  let n = 0;
  const q = {
    query: ((...args: Parameters<typeof c.query>) => {
      n++;
      return c.query(...args);
    }) as typeof pool.query,
  };
  try {
    await fn(q);
  } finally {
    c.release();
  }
  return n;
}

describe("usage rows", () => {
  it("concurrent first claims of a user without a row all count, in one row", async () => {
    const userId = `u-${randomUUID()}`;
    // Ten transactions at once, each claiming for a user that has no row yet.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        inTransaction(pool, (tx) => claim(tx, userId, { use: 5n, files: 1, defaultQuota: 1000 })),
      ),
    );
    expect(await usage(userId)).toEqual([{ used: 50, reserved: 0, files: 10 }]);
  });

  it("claims beyond the quota are refused, with or without a row", async () => {
    const fresh = `u-${randomUUID()}`;
    await expect(claim(pool, fresh, { use: 2000n, defaultQuota: 1000 })).rejects.toMatchObject({
      reason: "QUOTA_EXCEEDED",
    });
    expect(await usage(fresh)).toEqual([{ used: 0, reserved: 0, files: 0 }]);
    await expect(claim(pool, fresh, { use: 2000n, defaultQuota: 1000 })).rejects.toMatchObject({
      reason: "QUOTA_EXCEEDED",
    });
  });

  it("adjust creates the row when needed and never goes below zero", async () => {
    const userId = `u-${randomUUID()}`;
    await adjust(pool, userId, { used: 7n, files: 1 });
    await adjust(pool, userId, { used: -10n, reserved: -3n, files: -2 });
    expect(await usage(userId)).toEqual([{ used: 0, reserved: 0, files: 0 }]);
    const other = `u-${randomUUID()}`;
    await adjust(pool, other, { used: -4n, reserved: 9n });
    expect(await usage(other)).toEqual([{ used: 0, reserved: 9, files: 0 }]);
  });

  it("a user with a row: claim, adjust and a reservation's growth are one statement each", async () => {
    const userId = `u-${randomUUID()}`;
    await adjust(pool, userId, {});
    expect(await statements((q) => claim(q, userId, { reserve: 1n, defaultQuota: 1000 }))).toBe(1);
    expect(await statements((q) => adjust(q, userId, { reserved: -1n, used: 1n }))).toBe(1);
    const id = randomUUID();
    expect(await statements((q) => growReservation(q, { id, userId, bytes: 10n, defaultQuota: 1000 }))).toBe(
      1,
    );
    expect(await usage(userId)).toEqual([{ used: 1, reserved: 10, files: 0 }]);
  });
});
