// Brute-force protection: failures are counted per account (keyed by a hash of the e-mail,
// whether or not the account exists, so answers never reveal that) and per client address.
// Past a number of free attempts each further failure imposes a growing delay (doubling, up
// to a cap); counters expire after a quiet period and a successful login clears the
// account's. There is never a permanent lock-out. Fails closed if Redis is unreachable.
import { createHash } from "node:crypto";
import { type Redis, redisScript, resourceExhausted, unavailable } from "@filemesh/kit";

export interface ThrottleSettings {
  /** Failures allowed before delays start (per account; per client it is 4×). */
  freeAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Counters are forgotten after this long without a failure. */
  windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  freeAttempts: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 15 * 60_000,
  windowMs: 60 * 60_000,
};

const accountKey = (email: string) => `fm:lf:a:${createHash("sha256").update(email).digest("base64url")}`;
const clientKey = (address: string) => `fm:lf:c:${address}`;

const FAIL = redisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free = tonumber(ARGV[1])
local delay = 0
if n > free then
  delay = math.min(tonumber(ARGV[2]) * 2 ^ (n - free - 1), tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'until', now + delay)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return {n, delay}`);

const WAIT = redisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = 0
for i = 1, #KEYS do
  local u = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
  if u - now > w then w = u - now end
end
return w`);

export interface Throttle {
  /** Throws LOGIN_THROTTLED (RESOURCE_EXHAUSTED + RetryInfo) while a delay is running. */
  check(email: string, client: string): Promise<void>;
  /** Records a failure; returns the account's failure count and the delay it started (ms). */
  fail(email: string, client: string): Promise<{ failures: number; delayMs: number }>;
  succeed(email: string): Promise<void>;
}

export function createThrottle(redis: Redis, s: ThrottleSettings = DEFAULT_THROTTLE): Throttle {
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if ((err as { reason?: string }).reason) throw err;
      throw unavailable("THROTTLE_UNAVAILABLE", "login is unavailable right now; retry shortly", 1000);
    }
  };
  return {
    check: (email, client) =>
      guard(async () => {
        const waitMs = Number(await WAIT(redis, [accountKey(email), clientKey(client)]));
        if (waitMs > 0) {
          throw resourceExhausted("LOGIN_THROTTLED", "too many failed logins; retry later", waitMs);
        }
      }),
    fail: (email, client) =>
      guard(async () => {
        const args = [s.baseDelayMs, s.maxDelayMs, s.windowMs];
        const [[failures, delayMs]] = await Promise.all([
          FAIL(redis, [accountKey(email)], [s.freeAttempts, ...args]) as Promise<[number, number]>,
          FAIL(redis, [clientKey(client)], [s.freeAttempts * 4, ...args]),
        ]);
        return { failures, delayMs };
      }),
    succeed: (email) =>
      guard(async () => {
        await redis.del(accountKey(email));
      }),
  };
}
