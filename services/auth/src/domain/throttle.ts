// Brute-force protection that an attacker cannot turn against the account's owner.
//
// Failures are counted in three places (accounts are keyed by a hash of the e-mail, whether or
// not the account exists, so answers never reveal that):
//   1. per account AND client address — `freeAttempts` free, then a delay that doubles with each
//      further failure up to a cap. This is what slows one address guessing one password. The
//      attacker's address is slowed; the owner's address has its own counter and is untouched.
//   2. per client address, any account — 4× free. Slows one address spraying many accounts.
//   3. per account, all addresses — 4× free, then doubling delays; a ceiling on distributed
//      guessing (many addresses, one account). It applies only to clients the account has never
//      logged in from: an address is "known" to an account for `knownClientMs` after a
//      successful login from it (OWASP "device cookies", keyed by the address a trusted proxy
//      saw, so no client change is needed). Guessing wrong cannot make an address known, so an
//      attacker who does not know the password cannot get past the ceiling, and cannot keep the
//      owner out of an address they have used before either. An owner on a new address during a
//      distributed attack waits like any unknown client: a delay, never a lock-out.
// An attempt is counted when it begins, in the same script that checks the delays, so guesses
// sent in parallel cannot slip through together; a right password takes its attempt back
// (count and any delay it started), clears (1) for that address and marks the address known. Counters expire after `windowMs`
// without a failure; there is never a permanent lock-out. Fails closed if Redis is unreachable.
import { createHash } from "node:crypto";
import { type Redis, redisScript, resourceExhausted, unavailable } from "@filemesh/kit";

export interface ThrottleSettings {
  /** Failures allowed per account and client before delays start (per client or account: 4×). */
  freeAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Counters are forgotten after this long without a failure. */
  windowMs: number;
  /** An address stays known to an account this long after a successful login from it. */
  knownClientMs: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  freeAttempts: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 15 * 60_000,
  windowMs: 60 * 60_000,
  knownClientMs: 30 * 86_400_000,
};

/** Known addresses kept per account (the most recent successes). */
const MAX_KNOWN = 16;

const digest = (s: string) => createHash("sha256").update(s).digest("base64url").slice(0, 22);

function keysOf(email: string, client: string) {
  const a = createHash("sha256").update(email).digest("base64url");
  // Known addresses are stored hashed: they only need to be recognised, never read back.
  const member = digest(client);
  return { keys: [`fm:lf:ac:${a}:${member}`, `fm:lf:c:${client}`, `fm:lf:a:${a}`, `fm:lf:k:${a}`], member };
}

// KEYS: pair, client, account, known. The account's delay counts only for unknown clients.
// ARGV: member, knownClientMs, freeAttempts, then per script.
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('ZSCORE', KEYS[4], ARGV[1])
local known = s and tonumber(s) > now - tonumber(ARGV[2])
local free = tonumber(ARGV[3])
local allowed = {free, free * 4, free * 4}
`;

// Refuses with the wait while a delay that applies runs. Else counts the attempt as a failure
// and starts the next delay where one is due; returns, per key, the delay's end it replaced
// and the one it set ('0' when none), so that END can take exactly this attempt back.
// ARGV[4..6]: baseDelayMs, maxDelayMs, windowMs.
const BEGIN = redisScript(`${PRELUDE}
local base, cap, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local applies = 3
if known then applies = 2 end
local wait = 0
for i = 1, applies do
  local u = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
  if u - now > wait then wait = u - now end
end
if wait > 0 then return {0, wait} end
local out = {1, 0, 0}
for i = 1, 3 do
  local n = redis.call('HINCRBY', KEYS[i], 'n', 1)
  local prev, set = redis.call('HGET', KEYS[i], 'until') or '0', '0'
  if n > allowed[i] then
    local delay = math.min(base * 2 ^ (n - allowed[i] - 1), cap)
    set = string.format('%.0f', now + delay)
    redis.call('HSET', KEYS[i], 'until', set)
    if (i < 3 or not known) and delay > out[3] then out[3] = delay end
  end
  redis.call('PEXPIRE', KEYS[i], window)
  if i == 3 then out[2] = n end
  table.insert(out, prev)
  table.insert(out, set)
end
return out`);

// Takes an attempt back: its count, and the delay it started unless a later attempt has
// replaced it. ARGV[4] = 1 when the password was right: then the pair's failures are cleared
// and the address becomes known (the most recent ARGV[5] are kept). ARGV[6..11]: BEGIN's
// replaced/set delay ends per key.
const END = redisScript(`${PRELUDE}
local right = ARGV[4] == '1'
for i = 1, 3 do
  if i == 1 and right then
    redis.call('DEL', KEYS[1])
  elseif tonumber(redis.call('HGET', KEYS[i], 'n') or '0') > 0 then
    local n = redis.call('HINCRBY', KEYS[i], 'n', -1)
    local prev, set = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
    if n <= allowed[i] then
      redis.call('HDEL', KEYS[i], 'until')
    elseif set ~= '0' and redis.call('HGET', KEYS[i], 'until') == set then
      if prev == '0' then redis.call('HDEL', KEYS[i], 'until') else redis.call('HSET', KEYS[i], 'until', prev) end
    end
  end
end
if right then
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[5]) + 1))
  redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[2]))
end
return 1`);

export interface Attempt {
  email: string;
  client: string;
  /** The account's failures (all addresses) if this attempt fails. */
  failures: number;
  /** The delay this attempt starts for its client if it fails (ms). */
  delayMs: number;
  /** Per key, the delay end this attempt replaced and the one it set (for END). */
  readonly undo: string[];
}

export interface Throttle {
  /**
   * Begins an attempt: throws LOGIN_THROTTLED (RESOURCE_EXHAUSTED + RetryInfo) while a delay
   * applies to this client, else counts it as a failure until `succeed` or `cancel`.
   */
  begin(email: string, client: string): Promise<Attempt>;
  /** The password was right: the attempt is taken back and the address becomes known. */
  succeed(attempt: Attempt): Promise<void>;
  /** The attempt ended without an answer about the password (an error): taken back. */
  cancel(attempt: Attempt): Promise<void>;
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
  const end = (a: Attempt, right: boolean) =>
    guard(async () => {
      const { keys, member } = keysOf(a.email, a.client);
      await END(redis, keys, [member, s.knownClientMs, s.freeAttempts, right ? 1 : 0, MAX_KNOWN, ...a.undo]);
    });
  return {
    begin: (email, client) =>
      guard(async () => {
        const { keys, member } = keysOf(email, client);
        const [counted, failures, delayMs, ...undo] = (await BEGIN(redis, keys, [
          member,
          s.knownClientMs,
          s.freeAttempts,
          s.baseDelayMs,
          s.maxDelayMs,
          s.windowMs,
        ])) as [number, number, number, ...string[]];
        if (counted === 0) {
          throw resourceExhausted("LOGIN_THROTTLED", "too many failed logins; retry later", failures);
        }
        return { email, client, failures, delayMs, undo };
      }),
    succeed: (a) => end(a, true),
    cancel: (a) => end(a, false),
  };
}
