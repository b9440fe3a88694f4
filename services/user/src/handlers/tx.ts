// The handlers' transactions: a deadlock or serialisation failure between concurrent changes
// is ABORTED (retry), not INTERNAL.
import { AppError, Code, inTransaction } from "@filemesh/kit";
import type pg from "pg";

const CONFLICTS = new Set(["40P01", "40001"]);

export async function writeTx<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    return await inTransaction(pool, fn);
  } catch (err) {
    if (CONFLICTS.has((err as { code?: string }).code ?? "")) {
      throw new AppError(Code.ABORTED, "CONCURRENT_CHANGE", "a concurrent change got in the way; retry");
    }
    throw err;
  }
}
