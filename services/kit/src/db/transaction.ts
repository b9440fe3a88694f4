import type { Pool, PoolClient } from "pg";
import { takeBeforeCommit } from "./pipeline.js";
import { PreparingClient } from "./prepared.js";

/**
 * Runs `fn` in one transaction on a pooled client. Unlike a plain connect/release it survives
 * the connection dying mid-way (Postgres restart, terminated backend): the client's `error`
 * event is caught instead of crashing the process, and a broken client is destroyed rather
 * than returned to the pool.
 *
 * On the services' pools (PreparingClient) the transaction is corked (pipeline.ts): BEGIN goes
 * with the first statement, statements `fn` issues together go together, and statements it
 * hands to beforeCommit go with the COMMIT — whose failure, or theirs, rolls back and throws.
 */
export async function inTransaction<T>(pool: Pool, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on("error", onError);
  const corking = client instanceof PreparingClient;
  try {
    if (corking) {
      client.cork();
      // Not awaited: it goes with fn's first statement, which fails (skipped) if it does.
      client.query("BEGIN").catch(() => {});
    } else {
      await client.query("BEGIN");
    }
    const out = await fn(client);
    const tail = takeBeforeCommit(client);
    const committed = await client.query("COMMIT");
    for (const t of tail) await t; // settled by now: a failure skipped the COMMIT anyway
    // A COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
    if (committed.command === "ROLLBACK") throw new Error("the transaction was rolled back at COMMIT");
    return out;
  } catch (err) {
    takeBeforeCommit(client);
    await client.query("ROLLBACK").catch((e: Error) => {
      broken ??= e;
    });
    throw err;
  } finally {
    if (corking) (client as PreparingClient).uncork();
    client.off("error", onError);
    client.release(broken);
  }
}
