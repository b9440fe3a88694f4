// Quota for content of unknown length (raw uploads): reserved step by step as bytes arrive,
// each step one conditional UPDATE, so the quota holds before more than it is stored and
// concurrent uploads cannot together pass it.
import type pg from "pg";
import { adjust, claim } from "../store/usage.js";

const STEP = 1024n * 1024n;

export function growingReservation(pool: pg.Pool, userId: string, defaultQuota: number) {
  let reserved = 0n;
  return {
    /** Makes sure at least `total` bytes are reserved (QUOTA_EXCEEDED otherwise). */
    async cover(total: bigint): Promise<void> {
      if (total <= reserved) return;
      const need = total - reserved;
      try {
        await claim(pool, userId, { reserve: need > STEP ? need : STEP, defaultQuota });
        reserved += need > STEP ? need : STEP;
      } catch (err) {
        if (need >= STEP) throw err;
        await claim(pool, userId, { reserve: need, defaultQuota });
        reserved += need;
      }
    },
    reserved: () => reserved,
    /** The commit consumed the reservation. */
    consumed(): void {
      reserved = 0n;
    },
    async release(): Promise<void> {
      if (reserved > 0n) await adjust(pool, userId, { reserved: -reserved });
      reserved = 0n;
    },
  };
}
