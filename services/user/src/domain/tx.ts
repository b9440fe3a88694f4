// The handlers' transactions: a deadlock or serialisation failure between concurrent changes
// is ABORTED CONFLICT_RETRY (the kit's conflictError), not INTERNAL.
import { conflictError, inTransaction } from "@filemesh/kit";
import type pg from "pg";

export async function writeTx<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    return await inTransaction(pool, fn);
  } catch (err) {
    throw conflictError(err) ?? err;
  }
}
