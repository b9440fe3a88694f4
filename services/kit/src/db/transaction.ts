import type { Pool, PoolClient } from "pg";

/**
 * Runs `fn` in one transaction on a pooled client. Unlike a plain connect/release it survives
 * the connection dying mid-way (Postgres restart, terminated backend): the client's `error`
 * event is caught instead of crashing the process, and a broken client is destroyed rather
 * than returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch((e: Error) => {
      broken ??= e;
    });
    throw err;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
