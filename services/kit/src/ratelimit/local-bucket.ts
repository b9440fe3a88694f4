// A local token bucket in front of the Redis GCRA (ratelimit/gcra.ts): a replica leases a
// batch of a caller's tokens from Redis in one round trip and spends them locally, so most
// calls take no network round trip. Leased tokens are charged to the caller's shared GCRA
// budget when they are leased, so across all replicas a caller is never allowed more than
// the limit over time; what leasing changes, within a documented tolerance:
//  - a window may see up to `replicas × batch` more calls than the GCRA alone would allow
//    (tokens leased before it and spent in it), and
//  - a caller may be refused on one replica while up to `batch` of its leased tokens sit
//    unspent on another; unspent tokens lapse after `leaseMs` (never handed back).
// A replica never holds more than `batch` of a caller's tokens. The first batch is a tenth of
// the burst, at most 100 (`firstBatch`), so a limit without burst (burst 0: batch 1) behaves
// exactly as before, one script call per call. The batch follows the caller's pace: a lease
// spent within an eighth of `leaseMs` doubles the next one, up to a tenth of the burst and at
// most 1,000 (`maxBatch`); one that lasted over half of `leaseMs` halves it, down to the first.
// So only a caller spending fast on this replica holds a large batch here, and what it strands
// is about what it spends here in 125 ms. A caller spending its batch tops it up before it runs
// out: when a quarter is left, one lease in the background brings it back to `batch`, while
// the calls go on spending what is left (without it, every call arriving while the lease was
// on its way waited for it: a stall of a round trip every batch). A lease for a call asks for
// the call's cost plus what the batch lacks, so calls costing several tokens (CheckBatch) are
// served from the local tokens too when they cover them. A refusal is remembered until the
// wait it gave (no call of that cost can pass before: other replicas only take more), so a
// caller over its limit is refused without a round trip per call. A call costing more than
// the whole budget goes to Redis on its own as before (takeToken).
import type { Redis } from "ioredis";
import { LIMIT_BOUNDS, type Limit, leaseTokens, takeToken } from "./gcra.js";

export interface LocalBucketOptions {
  /** A caller's first batch (tokens): min(firstBatch, floor((burst + 1) / 10)), at least 1. */
  firstBatch?: number;
  /** The largest batch a fast caller grows to: min(maxBatch, floor((burst + 1) / 10)). */
  maxBatch?: number;
  /** How long leased tokens may be spent locally. */
  leaseMs?: number;
  /** Most callers held at once (the map is cleared when full; their tokens lapse). */
  maxKeys?: number;
  now?: () => number;
}

interface Held {
  tokens: number;
  until: number;
  /** The lease in flight, if any (its answer is for the call that started it). */
  pending: Promise<number> | undefined;
  /**
   * The last refusal: no call costing `refusedCost` or more can pass before `refusedUntil`
   * (other replicas only take more), so such calls are refused here without asking Redis.
   */
  refusedUntil: number;
  refusedCost: number;
  /** The most tokens held here for this caller (first batch … ceiling, by its pace). */
  batch: number;
  /** When the last lease was granted (0: none yet). */
  grantedAt: number;
  /** No top-up before this (one failed: Redis is not asked again by every call while it is down). */
  topUpAfter: number;
}

export interface LocalBucket {
  /**
   * Takes `cost` tokens of `key`: 0 when allowed, else the milliseconds until it would be.
   * Synchronous (a number) when the local tokens cover it; a promise when Redis is asked.
   * Rejects when Redis is unreachable (the middleware decides what that means).
   */
  take(key: string, limit: Limit, cost: number): number | Promise<number>;
  /** Tokens held locally for `key` now (tests). */
  held(key: string): number;
}

/** A caller's first batch for `limit`. */
export const batchOf = (limit: Limit, firstBatch = 100): number =>
  Math.max(1, Math.min(firstBatch, Math.floor((limit.burst + 1) / 10)));

/** The largest batch a caller spending fast grows to. */
export const batchCeiling = (limit: Limit, maxBatch = 1000): number => batchOf(limit, maxBatch);

export function createLocalBucket(redis: Redis, o: LocalBucketOptions = {}): LocalBucket {
  const firstBatch = o.firstBatch ?? 100;
  const maxBatch = o.maxBatch ?? 1000;
  const leaseMs = o.leaseMs ?? 1000;
  const maxKeys = o.maxKeys ?? 100_000;
  const now = o.now ?? Date.now;
  const held = new Map<string, Held>();
  let sweptAt = now();

  const sweep = (t: number) => {
    if (t - sweptAt < 10_000 && held.size < maxKeys) return;
    sweptAt = t;
    for (const [k, h] of held) if (h.until <= t && !h.pending) held.delete(k);
    if (held.size >= maxKeys) held.clear();
  };

  /** The batch for the next lease, after the pace of the last one (see the top of this file). */
  const paced = (h: Held, limit: Limit, t: number): number => {
    if (h.grantedAt > 0) {
      const lasted = t - h.grantedAt;
      if (lasted < leaseMs / 8) h.batch *= 2;
      else if (lasted > leaseMs / 2) h.batch = Math.floor(h.batch / 2);
    }
    h.batch = Math.max(batchOf(limit, firstBatch), Math.min(batchCeiling(limit, maxBatch), h.batch));
    return h.batch;
  };

  /** Tokens still valid here. */
  const left = (h: Held, t: number): number => (h.until > t ? h.tokens : 0);

  /**
   * Leases `need` to `want` tokens; `cost` of them are the call's that asked (0 for a top-up).
   * Resolves with 0 when granted, else the wait.
   */
  const lease = (key: string, h: Held, limit: Limit, cost: number, need: number, want: number) => {
    const p = leaseTokens(redis, key, limit, need, want).then(
      ({ granted, waitMs }) => {
        h.pending = undefined;
        const t = now();
        if (granted === 0) {
          h.refusedUntil = t + waitMs;
          h.refusedCost = need;
          return Math.max(1, waitMs);
        }
        // Tokens of an earlier lease still valid are kept; the new ones extend the lease.
        h.tokens = left(h, t) + granted - cost;
        h.until = t + leaseMs;
        h.grantedAt = t;
        return 0;
      },
      (err) => {
        h.pending = undefined;
        throw err;
      },
    );
    h.pending = p;
    return p;
  };

  /** Leases for one call: its own cost is taken from the grant at once. 0 when allowed, else the wait. */
  const leaseFor = (key: string, h: Held, limit: Limit, cost: number): Promise<number> => {
    const t = now();
    // Enough for this call and what the batch lacks (what is left over stays ≤ batch).
    return lease(key, h, limit, cost, cost, cost + Math.max(0, paced(h, limit, t) - left(h, t)));
  };

  /**
   * Spends `cost` held tokens; when a quarter of the batch or less is left, tops it up in the
   * background (a failure or refusal there is met by the calls that run out, as before).
   */
  const spend = (key: string, h: Held, limit: Limit, cost: number, t: number): 0 => {
    h.tokens -= cost;
    if (h.pending === undefined && h.tokens * 4 <= h.batch && h.refusedUntil <= t && h.topUpAfter <= t) {
      const lacking = paced(h, limit, t) - h.tokens;
      if (lacking > 0) {
        lease(key, h, limit, 0, 1, lacking).catch(() => {
          h.topUpAfter = now() + leaseMs / 4;
        });
      }
    }
    return 0;
  };

  const slow = async (key: string, h: Held, limit: Limit, cost: number): Promise<number> => {
    // Concurrent calls of one caller share the lease in flight, then spend what it brought;
    // a call that finds nothing left leases for itself.
    for (let round = 0; round < 3; round++) {
      if (h.pending === undefined) return leaseFor(key, h, limit, cost);
      await h.pending;
      const t = now();
      if (h.until > t && h.tokens >= cost) return spend(key, h, limit, cost, t);
    }
    return takeToken(redis, key, limit, cost);
  };

  return {
    take(key, limit, given) {
      // As takeToken: a whole number of tokens, 1 to LIMIT_BOUNDS.maxCost.
      const cost = Number.isFinite(given) ? Math.min(LIMIT_BOUNDS.maxCost, Math.max(1, Math.ceil(given))) : 1;
      if (batchCeiling(limit, maxBatch) <= 1 || cost > limit.burst + 1)
        return takeToken(redis, key, limit, cost);
      const t = now();
      let h = held.get(key);
      if (h === undefined) {
        sweep(t);
        const batch = batchOf(limit, firstBatch);
        h = {
          tokens: 0,
          until: 0,
          pending: undefined,
          refusedUntil: 0,
          refusedCost: 0,
          batch,
          grantedAt: 0,
          topUpAfter: 0,
        };
        held.set(key, h);
      } else if (h.until > t && h.tokens >= cost) {
        // Also while a top-up is on its way: what is held is spent first.
        return spend(key, h, limit, cost, t);
      } else if (h.refusedUntil > t && cost >= h.refusedCost && h.tokens < cost) {
        return Math.max(1, Math.ceil(h.refusedUntil - t));
      }
      return slow(key, h, limit, cost);
    },
    held(key) {
      const h = held.get(key);
      return h && h.until > now() ? h.tokens : 0;
    },
  };
}
