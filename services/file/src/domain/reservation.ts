// Quota for content of unknown length (raw uploads): reserved step by step as bytes arrive,
// each step one conditional statement, so the quota holds before more than it is stored and
// concurrent uploads cannot together pass it. The reservation is a row (store/reservations.ts)
// whose lease this process renews while the body arrives: if the process dies (kill -9), the
// janitor gives the bytes back once the lease lapses; the commit, the release or the janitor
// ends it, exactly once.
//
// A body that ends within its first step (1 MiB: every small upload) reserves nothing: its
// bytes are claimed against the quota at the commit, by the commit's one conditional
// statement (store/usage.ts claim), so concurrent uploads still cannot together pass the quota.
// Over the quota, such a body is stored and then dropped (QUOTA_EXCEEDED at the commit): at most
// one step per upload in flight is ever stored beyond the quota, and only until its commit.
// That spares the reservation's three statements (grow, take, and the usage row updated twice)
// on the path nearly every upload takes.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { growReservation, releaseReservation, renewReservation } from "../store/reservations.js";

const STEP = 1024n * 1024n;

export interface ReservationOptions {
  defaultQuota: number;
  /** How often the lease is renewed while the upload lives (a fraction of the janitor's lease). */
  renewMs: number;
}

export function growingReservation(pool: pg.Pool, userId: string, o: ReservationOptions) {
  const id = randomUUID();
  let reserved = 0n;
  let released = false;
  let taken = false;
  let timer: NodeJS.Timeout | undefined;
  const stopRenewing = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  // A claim may still be in flight when the upload fails (the store gave up on the body while
  // the meter awaited `cover`): release waits for it, and a claim that lands after the release
  // gives its bytes back at once, so nothing stays reserved.
  let pending: Promise<void> = Promise.resolve();
  const take = async (n: bigint) => {
    taken = true;
    const held = await growReservation(pool, { id, userId, bytes: n, defaultQuota: o.defaultQuota });
    if (released) {
      await releaseReservation(pool, id);
      return;
    }
    reserved = held;
    if (!timer) {
      timer = setInterval(() => void renewReservation(pool, id).catch(() => {}), o.renewMs);
      timer.unref();
    }
  };
  // Steps of a quarter of what is held (at least STEP): a 256 MiB body takes about 30 statements,
  // not 256, and holds at most a quarter more than it has sent. The step is awaited before bytes
  // pass on, so each one is also a pause in the transfer. Near the quota, only what is needed.
  const grow = async (need: bigint) => {
    const step = reserved / 4n > STEP ? reserved / 4n : STEP;
    try {
      await take(need > step ? need : step);
    } catch (err) {
      if (need >= step) throw err;
      await take(need);
    }
  };
  return {
    /** The reservation's row; the commit takes it (turning its bytes into use). */
    id,
    /** Makes sure at least `total` bytes are reserved (QUOTA_EXCEEDED otherwise). */
    async cover(total: bigint): Promise<void> {
      if (released) throw new Error("reservation already released");
      if (total <= reserved || (!taken && total <= STEP)) return;
      const step = grow(total - reserved);
      pending = step.catch(() => {});
      await step;
    },
    reserved: () => reserved,
    /**
     * Whether the row exists (or may: a claim was sent). False while the body is within its
     * first step: the commit then claims the whole size itself.
     */
    held: () => taken,
    /** The commit took the reservation. */
    consumed(): void {
      stopRenewing();
      reserved = 0n;
    },
    async release(): Promise<void> {
      released = true;
      stopRenewing();
      await pending;
      reserved = 0n;
      if (taken) await releaseReservation(pool, id);
    },
  };
}
