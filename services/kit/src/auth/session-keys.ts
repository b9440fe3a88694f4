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
  /**
   * True when a positive answer for the session and user is still cached (no I/O, no promise);
   * false means "ask isLive", never "not live".
   */
  cachedLive?(sessionId: string, userId: string): boolean;
}

/**
 * Session checks with a positive cache of at most `cacheMs` (≤ 1 s by contract): a revoked
 * session's tokens stop working everywhere within that bound. Negative answers are not cached.
 * Entries are keyed by the session id alone (the string the verified token's cached claims hold,
 * so its hash is computed once) and hold the user they were confirmed for.
 */
export function createSessionChecker(redis: Redis, idleMs: number, cacheMs = 1000): SessionChecker {
  if (cacheMs > 1000) throw new Error("session cache must not exceed 1 s");
  const cache = new Map<string, { uid: string; until: number }>();
  let sweep = Date.now();
  const cachedLive = (sid: string, uid: string, now = Date.now()): boolean => {
    const hit = cache.get(sid);
    return hit !== undefined && hit.until > now && hit.uid === uid;
  };
  return {
    cachedLive: (sid, uid) => cachedLive(sid, uid),
    async isLive(sid, uid) {
      const now = Date.now();
      if (cachedLive(sid, uid, now)) return true;
      if (now - sweep > 10_000) {
        for (const [k, v] of cache) if (v.until <= now) cache.delete(k);
        sweep = now;
      }
      const live = (await TOUCH(redis, [sessionKey(sid)], [uid, idleMs])) === 1;
      if (live) cache.set(sid, { uid, until: now + cacheMs });
      // Only the user's own entry goes: a wrong user for the session says nothing of the right one.
      else if (cache.get(sid)?.uid === uid) cache.delete(sid);
      return live;
    },
  };
}
