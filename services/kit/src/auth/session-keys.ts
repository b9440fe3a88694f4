// The session record in Redis, shared by the auth service (which writes it) and every
// service's authentication middleware (which checks it). One hash per session:
//   fm:sess:<sid> = { uid, ct, lu, exp, ua, ip, fam, gen }   TTL = min(idle, exp - now)
// plus fm:usess:<uid> (sorted set of the user's session ids by expiry).
import type { Redis } from "ioredis";
import { redisScript } from "../redis.js";

export const sessionKey = (sid: string) => `fm:sess:${sid}`;
export const userSessionsKey = (uid: string) => `fm:usess:${uid}`;

/**
 * Checks that the session exists and belongs to `uid`, records the use and extends its idle
 * timeout without passing the absolute expiry. Returns 1 when live, 0 when gone.
 */
const TOUCH = redisScript(`
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid or uid ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = tonumber(redis.call('HGET', KEYS[1], 'exp'))
if not exp or exp <= now then redis.call('DEL', KEYS[1]) return 0 end
local ttl = math.min(tonumber(ARGV[2]), exp - now)
redis.call('HSET', KEYS[1], 'lu', now)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1`);

export interface SessionChecker {
  /** True when the session is live and belongs to the user. Throws when Redis is unreachable. */
  isLive(sessionId: string, userId: string): Promise<boolean>;
}

/**
 * Session checks with a positive cache of at most `cacheMs` (≤ 1 s by contract): a revoked
 * session's tokens stop working everywhere within that bound. Negative answers are not cached.
 */
export function createSessionChecker(redis: Redis, idleMs: number, cacheMs = 1000): SessionChecker {
  if (cacheMs > 1000) throw new Error("session cache must not exceed 1 s");
  const cache = new Map<string, number>();
  let sweep = Date.now();
  return {
    async isLive(sid, uid) {
      const now = Date.now();
      const key = `${sid}:${uid}`;
      const until = cache.get(key);
      if (until !== undefined && until > now) return true;
      if (now - sweep > 10_000) {
        for (const [k, v] of cache) if (v <= now) cache.delete(k);
        sweep = now;
      }
      const live = (await TOUCH(redis, [sessionKey(sid)], [uid, idleMs])) === 1;
      if (live) cache.set(key, now + cacheMs);
      else cache.delete(key);
      return live;
    },
  };
}
