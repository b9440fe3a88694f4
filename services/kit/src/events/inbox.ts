import type { Pool, PoolClient } from "pg";
import { inTransaction } from "../db/transaction.js";
import { checkSchema } from "./outbox.js";

/**
 * DDL for `<schema>.consumed_events`: one row per (consumer, event id) applied. Written in the
 * same transaction as the consumer's effect, so an event's effect commits at most once.
 */
export function consumedEventsTableSql(schema: string): string {
  const s = `"${checkSchema(schema)}"`;
  return `CREATE TABLE IF NOT EXISTS ${s}.consumed_events (
  consumer text NOT NULL,
  event_id uuid NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS consumed_events_applied_idx ON ${s}.consumed_events (applied_at);
`;
}

/**
 * Runs `effect` in a transaction that first records (consumer, eventId). Returns false, without
 * running it, when that event was already applied; a concurrent duplicate waits on the key and
 * then sees it applied. Throws (and rolls back) when `effect` throws.
 */
export async function applyOnce(
  pool: Pool,
  schema: string,
  consumer: string,
  eventId: string,
  effect: (tx: PoolClient) => Promise<void>,
): Promise<boolean> {
  const s = `"${checkSchema(schema)}"`;
  return inTransaction(pool, async (tx) => {
    const res = await tx.query(
      `INSERT INTO ${s}.consumed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [consumer, eventId],
    );
    if (res.rowCount === 0) return false; // committing an empty transaction is harmless
    await effect(tx);
    return true;
  });
}

/** Forgets applied ids older than `olderThanMs` (keep this above the stream's max age). */
export async function pruneConsumed(pool: Pool, schema: string, olderThanMs: number): Promise<number> {
  const res = await pool.query(
    `DELETE FROM "${checkSchema(schema)}".consumed_events
     WHERE applied_at < now() - make_interval(secs => $1::double precision)`,
    [olderThanMs / 1000],
  );
  return res.rowCount ?? 0;
}
