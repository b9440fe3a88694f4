// Rate limits with GCRA (generic cell rate algorithm) in Redis: one key per (class, caller)
// holding the theoretical arrival time; atomic in a Lua script, clock from Redis itself so
// every replica agrees. `rate` requests per `periodMs`, with `burst` extra allowed at once.
// The script counts in microseconds: Redis' TIME is exact there (below 2^53), so the smallest
// interval a limit may have is 1 µs, and every accepted setting both advances the arrival time
// and gives its key a positive expiry (at milliseconds, 1e9/1s added less than the float's
// precision and asked Redis for `PX 0`: "invalid expire time", and the limiter failed open).
// A call may cost more than one token (CheckBatch: one per item). It passes when the budget
// holds its cost, and is charged all of it. A cost above the whole budget (burst + 1) could
// never pass, so such a call needs only a full budget — and is still charged in full: the
// caller waits the debt off before the next call, so the long-run rate holds whatever the cost.
import type { Redis } from "ioredis";
import { redisScript } from "../redis.js";

export interface Limit {
  rate: number;
  periodMs: number;
  burst: number;
}

/** Bounds of a limit (checked at start-up, so the script can represent every accepted one). */
export const LIMIT_BOUNDS = {
  /** Longest period, and longest a key may live (burst window plus one interval). */
  maxPeriodMs: 7 * 86_400_000,
  maxBurst: 1_000_000,
  /** Smallest emission interval, period / rate. */
  minIntervalUs: 1,
  /** Most tokens one call is charged (a larger cost counts as this; CheckBatch takes ≤ 1,000). */
  maxCost: 1000,
} as const;

const GCRA = redisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local need = math.min(cost, tonumber(ARGV[4]))
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + (need - 1) * interval - now - tolerance
if wait > 0 then return math.ceil(wait / 1000) end
local new_tat = tat + cost * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return 0`);

/**
 * Takes `cost` tokens (a whole number, 1 to LIMIT_BOUNDS.maxCost; anything else is clamped).
 * Returns 0 when allowed, else the milliseconds (≥ 1) until a call of this cost would be.
 */
export async function takeToken(redis: Redis, key: string, limit: Limit, cost = 1): Promise<number> {
  const intervalUs = (limit.periodMs * 1000) / limit.rate;
  const n = Number.isFinite(cost) ? Math.min(LIMIT_BOUNDS.maxCost, Math.max(1, Math.ceil(cost))) : 1;
  // Keys hold microseconds since this version (":us"), so an older replica never reads them.
  return Number(await GCRA(redis, [`${key}:us`], [intervalUs, intervalUs * limit.burst, n, limit.burst + 1]));
}

const LEASE = redisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + (need - 1) * interval - now - tolerance
if wait > 0 then return {0, math.ceil(wait / 1000)} end
local grant = math.max(need, math.min(want, math.floor((now + tolerance - tat) / interval) + 1))
local new_tat = tat + grant * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return {grant, 0}`);

/**
 * Takes between `need` and `want` tokens at once (as many as the budget holds, at least
 * `need`; 1 ≤ need ≤ want, need ≤ burst + 1), on the same key and clock as takeToken: the
 * local token bucket's lease (ratelimit/local-bucket.ts). Returns the tokens granted (0 when
 * refused) and, when refused, the milliseconds (≥ 1) until `need` would be.
 */
export async function leaseTokens(
  redis: Redis,
  key: string,
  limit: Limit,
  need: number,
  want: number,
): Promise<{ granted: number; waitMs: number }> {
  const intervalUs = (limit.periodMs * 1000) / limit.rate;
  const r = (await LEASE(redis, [`${key}:us`], [intervalUs, intervalUs * limit.burst, need, want])) as [
    number,
    number,
  ];
  return { granted: Number(r[0]), waitMs: Number(r[1]) };
}

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses "login=10/1m:5,register=5/1m,read=100/1s:50" (burst after the colon, default 0) and
 * checks every limit against LIMIT_BOUNDS and, when given, the known rate classes. Throws one
 * error listing every problem.
 */
export function parseLimits(spec: string, knownClasses?: ReadonlySet<string>): Record<string, Limit> {
  const out: Record<string, Limit> = {};
  const problems: string[] = [];
  for (const part of spec
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9_-]*)=(\d+)\/(\d*)(ms|s|m|h|d)(?::(\d+))?$/.exec(part);
    if (!m) {
      problems.push(`"${part}" is not class=rate/period[:burst] (e.g. login=10/1m:5)`);
      continue;
    }
    const cls = m[1]!;
    const limit = {
      rate: Number(m[2]),
      periodMs: Number(m[3] || 1) * UNITS[m[4] as keyof typeof UNITS],
      burst: Number(m[5] ?? 0),
    };
    const bad = limitProblem(limit);
    if (knownClasses && !knownClasses.has(cls)) {
      problems.push(`"${part}": unknown rate class "${cls}" (known: ${[...knownClasses].sort().join(", ")})`);
    } else if (cls in out) problems.push(`"${part}": rate class "${cls}" is given twice`);
    else if (bad) problems.push(`"${part}": ${bad}`);
    else out[cls] = limit;
  }
  if (problems.length) throw new Error(`has bad rate limits: ${problems.join("; ")}`);
  return out;
}

function limitProblem({ rate, periodMs, burst }: Limit): string | undefined {
  const b = LIMIT_BOUNDS;
  if (!Number.isSafeInteger(rate) || rate < 1) return "rate must be a whole number of at least 1";
  if (periodMs < 1) return "period must be at least 1ms";
  if (periodMs > b.maxPeriodMs) return "period must be at most 7d";
  if ((periodMs * 1000) / rate < b.minIntervalUs)
    return `rate too high: at most ${periodMs * 1000} per ${periodMs}ms (one per microsecond)`;
  if (!Number.isSafeInteger(burst) || burst > b.maxBurst) return `burst must be at most ${b.maxBurst}`;
  if ((periodMs / rate) * (burst + 1) > b.maxPeriodMs)
    return "burst too large for the rate: burst × period / rate must stay within 7d";
  return undefined;
}
