// Quota for content of unknown length (raw uploads): reserved step by step as bytes arrive,
// each step one conditional UPDATE, so the quota holds before more than it is stored and
// concurrent uploads cannot together pass it.
import type pg from "pg";
import { adjust, claim } from "../store/usage.js";

const STEP = 1024n * 1024n;

export function growingReservation(pool: pg.Pool, userId: string, defaultQuota: number) {
  let reserved = 0n;
  let released = false;
  // A claim may still be in flight when the upload fails (the store gave up on the body while
  // the meter awaited `cover`): release waits for it, and a claim that lands after the release
  // gives its bytes back at once, so nothing stays reserved.
  let pending: Promise<void> = Promise.resolve();
  const take = async (n: bigint) => {
    await claim(pool, userId, { reserve: n, defaultQuota });
    if (released) await adjust(pool, userId, { reserved: -n });
    else reserved += n;
  };
  const grow = async (need: bigint) => {
    try {
      await take(need > STEP ? need : STEP);
    } catch (err) {
      if (need >= STEP) throw err;
      await take(need);
    }
  };
  return {
    /** Makes sure at least `total` bytes are reserved (QUOTA_EXCEEDED otherwise). */
    async cover(total: bigint): Promise<void> {
      if (released) throw new Error("reservation already released");
      if (total <= reserved) return;
      const step = grow(total - reserved);
      pending = step.catch(() => {});
      await step;
    },
    reserved: () => reserved,
    /** The commit consumed the reservation. */
    consumed(): void {
      reserved = 0n;
    },
    async release(): Promise<void> {
      released = true;
      await pending;
      const n = reserved;
      reserved = 0n;
      if (n > 0n) await adjust(pool, userId, { reserved: -n });
    },
  };
}
