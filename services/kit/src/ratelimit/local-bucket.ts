// A local token bucket in front of the Redis GCRA (ratelimit/gcra.ts): a replica leases a
// batch of a caller's tokens from Redis in one round trip and spends them locally, so most
// calls take no network round trip. Leased tokens are charged to the caller's shared GCRA
// budget when they are leased, so across all replicas a caller is never allowed more than
// the limit over time; what leasing changes, within a documented tolerance:
//  - a window may see up to `replicas × batch` more calls than the GCRA alone would allow
//    (tokens leased before it and spent in it), and
//  - a caller may be refused on one replica while up to `batch` of its leased tokens sit
//    unspent on another; unspent tokens lapse after `leaseMs` (never handed back).
// The batch is a tenth of the burst (at most 100), so a limit without burst (burst 0: batch
// 1) behaves exactly as before, one script call per call. A lease asks for the call's cost
// plus a batch (what is left over stays ≤ batch), so calls costing several tokens (CheckBatch)
// are served from the local tokens too when they cover them. A refusal is remembered until the
// wait it gave (no call of that cost can pass before: other replicas only take more), so a
// caller over its limit is refused without a round trip per call. A call costing more than
// the whole budget goes to Redis on its own as before (takeToken).
import type { Redis } from "ioredis";
import { LIMIT_BOUNDS, type Limit, leaseTokens, takeToken } from "./gcra.js";

export interface LocalBucketOptions {
  /** Largest lease (tokens); the batch of a limit is min(maxBatch, floor((burst + 1) / 10)). */
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

export const batchOf = (limit: Limit, maxBatch = 100): number =>
  Math.max(1, Math.min(maxBatch, Math.floor((limit.burst + 1) / 10)));

export function createLocalBucket(redis: Redis, o: LocalBucketOptions = {}): LocalBucket {
  const maxBatch = o.maxBatch ?? 100;
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

  /** Leases for one call: its own cost is taken from the grant at once. 0 when allowed, else the wait. */
  const lease = (key: string, h: Held, limit: Limit, cost: number, batch: number): Promise<number> => {
    // Enough for this call and a batch more (what is left over stays ≤ batch).
    const p = leaseTokens(redis, key, limit, cost, cost + batch).then(
      ({ granted, waitMs }) => {
        h.pending = undefined;
        const t = now();
        if (granted === 0) {
          h.refusedUntil = t + waitMs;
          h.refusedCost = cost;
          return Math.max(1, waitMs);
        }
        // Tokens of an earlier lease still valid are kept; the new ones extend the lease.
        h.tokens = (h.until > t ? h.tokens : 0) + granted - cost;
        h.until = t + leaseMs;
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

  const slow = async (key: string, h: Held, limit: Limit, cost: number, batch: number): Promise<number> => {
    // Concurrent calls of one caller share the lease in flight, then spend what it brought;
    // a call that finds nothing left leases for itself.
    for (let round = 0; round < 3; round++) {
      if (h.pending === undefined) return lease(key, h, limit, cost, batch);
      await h.pending;
      if (h.until > now() && h.tokens >= cost) {
        h.tokens -= cost;
        return 0;
      }
    }
    return takeToken(redis, key, limit, cost);
  };

  return {
    take(key, limit, given) {
      // As takeToken: a whole number of tokens, 1 to LIMIT_BOUNDS.maxCost.
      const cost = Number.isFinite(given) ? Math.min(LIMIT_BOUNDS.maxCost, Math.max(1, Math.ceil(given))) : 1;
      const batch = batchOf(limit, maxBatch);
      if (batch <= 1 || cost > limit.burst + 1) return takeToken(redis, key, limit, cost);
      const t = now();
      let h = held.get(key);
      if (h === undefined) {
        sweep(t);
        h = { tokens: 0, until: 0, pending: undefined, refusedUntil: 0, refusedCost: 0 };
        held.set(key, h);
      } else if (h.pending === undefined && h.until > t && h.tokens >= cost) {
        h.tokens -= cost;
        return 0;
      } else if (h.refusedUntil > t && cost >= h.refusedCost && h.tokens < cost) {
        return Math.max(1, Math.ceil(h.refusedUntil - t));
      }
      return slow(key, h, limit, cost, batch);
    },
    held(key) {
      const h = held.get(key);
      return h && h.until > now() ? h.tokens : 0;
    },
  };
}
