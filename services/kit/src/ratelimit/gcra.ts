// Rate limits with GCRA (generic cell rate algorithm) in Redis: one key per (class, caller)
// holding the theoretical arrival time; atomic in a Lua script, clock from Redis itself so
// every replica agrees. `rate` requests per `periodMs`, with `burst` extra allowed at once.
import type { Redis } from "ioredis";
import { redisScript } from "../redis.js";

export interface Limit {
  rate: number;
  periodMs: number;
  burst: number;
}

const GCRA = redisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait > 0 then return wait end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
return 0`);

/** Returns 0 when allowed, else the milliseconds until the next request would be. */
export async function takeToken(redis: Redis, key: string, limit: Limit): Promise<number> {
  const interval = limit.periodMs / limit.rate;
  return Number(await GCRA(redis, [key], [interval, interval * limit.burst]));
}

/** Parses "login=10/1m:5,register=5/1m,read=100/1s:50" (burst after the colon, default 0). */
export function parseLimits(spec: string): Record<string, Limit> {
  const out: Record<string, Limit> = {};
  for (const part of spec
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9_-]*)=(\d+)\/(\d*)(ms|s|m|h)(?::(\d+))?$/.exec(part);
    if (!m) throw new Error(`bad rate limit "${part}" (want class=rate/period[:burst], e.g. login=10/1m:5)`);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[4] as "ms" | "s" | "m" | "h"];
    const rate = Number(m[2]);
    if (rate < 1) throw new Error(`bad rate limit "${part}": rate must be at least 1`);
    out[m[1]!] = { rate, periodMs: Number(m[3] || 1) * unit, burst: Number(m[5] ?? 0) };
  }
  return out;
}
