import type { Pool } from "pg";
import { beforeCommit } from "../db/pipeline.js";
import { inTransaction } from "../db/transaction.js";
import { checkSchema } from "./outbox.js";

/** An outbox row claimed for publishing (locked until the claim transaction ends). */
export interface ClaimedRow {
  id: string;
  subject: string;
  payload: Buffer;
  headers: Record<string, string>;
}

export interface PublishFailure {
  id: string;
  error: string;
}

/** What the publisher did with a claimed batch. */
export interface BatchOutcome {
  published: string[];
  failed: PublishFailure[];
}

const MAX_ROW_BACKOFF_S = 60;

/**
 * Claims up to `limit` due unpublished rows in creation order (`FOR UPDATE SKIP LOCKED`, so
 * concurrent relays take disjoint rows), hands them to `publish`, then records the outcome in
 * the same transaction. If the process dies before COMMIT the locks go away and the rows are
 * claimed again (the republish is deduplicated by `Nats-Msg-Id`).
 *
 * Failed rows are set aside (`next_attempt_at`) so they cannot hold back the rows behind them:
 * when others in the batch went through (a poison message) by their own exponential backoff,
 * when none did (NATS trouble, or a whole batch of poison) by `allFailedDelayMs`, long enough
 * for the relay's next round to try the rows behind them.
 */
export async function withClaimedBatch(
  pool: Pool,
  schema: string,
  limit: number,
  publish: (rows: ClaimedRow[]) => Promise<BatchOutcome>,
  allFailedDelayMs: number,
): Promise<BatchOutcome & { claimed: number }> {
  const s = `"${checkSchema(schema)}"`;
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<ClaimedRow>(
      `SELECT id, subject, payload, headers FROM ${s}.outbox
       WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
       ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    if (rows.length === 0) return { claimed: 0, published: [], failed: [] };
    const outcome = await publish(rows);
    // The outcome's statements go with the COMMIT (db/pipeline.ts); a failure fails the claim.
    if (outcome.published.length > 0) {
      beforeCommit(
        client,
        client.query(
          `UPDATE ${s}.outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL,
           next_attempt_at = NULL
         WHERE id = ANY($1::uuid[])`,
          [outcome.published],
        ),
      );
    }
    if (outcome.failed.length > 0) {
      const someWent = outcome.published.length > 0;
      beforeCommit(
        client,
        client.query(
          `UPDATE ${s}.outbox o SET attempts = o.attempts + 1, last_error = f.error,
           next_attempt_at = clock_timestamp() + CASE WHEN $3::boolean
             THEN make_interval(secs => least(power(2, o.attempts), $4::int))
             ELSE make_interval(secs => $5::double precision) END
         FROM unnest($1::uuid[], $2::text[]) AS f(id, error)
         WHERE o.id = f.id`,
          [
            outcome.failed.map((f) => f.id),
            outcome.failed.map((f) => f.error),
            someWent,
            MAX_ROW_BACKOFF_S,
            allFailedDelayMs / 1000,
          ],
        ),
      );
    }
    return { claimed: rows.length, ...outcome };
  });
}

/** Rows not yet published (the backlog gauge). */
export async function countBacklog(pool: Pool, schema: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${checkSchema(schema)}".outbox WHERE published_at IS NULL`,
  );
  return Number(rows[0]?.n ?? 0);
}

/** Deletes rows published longer than `retentionMs` ago, in bounded chunks; returns how many. */
export async function prunePublished(
  pool: Pool,
  schema: string,
  retentionMs: number,
  chunk = 1000,
  maxChunks = 20,
): Promise<number> {
  const s = `"${checkSchema(schema)}"`;
  let total = 0;
  for (let i = 0; i < maxChunks; i++) {
    const res = await pool.query(
      `DELETE FROM ${s}.outbox WHERE id IN (
         SELECT id FROM ${s}.outbox
         WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::double precision)
         LIMIT $2)`,
      [retentionMs / 1000, chunk],
    );
    total += res.rowCount ?? 0;
    if ((res.rowCount ?? 0) < chunk) break;
  }
  return total;
}
