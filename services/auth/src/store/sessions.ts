// Sessions and refresh tokens in Redis (key layout in the kit's auth/session-keys.ts):
//   fm:sess:<sid>   hash {uid, ct, lu, exp, ua, ip, rth, gen}   TTL = min(idle, exp - now)
//   fm:usess:<uid>  sorted set of the user's session ids by absolute expiry
//   fm:rt:<hash>    "<sid>" for the live refresh token, "spent:<sid>" once rotated
// Refresh tokens are opaque 256-bit values stored only as SHA-256. Rotation is one Lua script,
// so of concurrent refreshes with one token at most one succeeds; presenting a spent token
// (a replay) ends the session and with it the whole token family (RFC 9700).
import { createHash, randomBytes } from "node:crypto";
import { keyPrefixOf, type Redis, redisScript, sessionKey, userSessionsKey } from "@filemesh/kit";

export interface SessionSettings {
  idleMs: number;
  absoluteMs: number;
}

export interface SessionInfo {
  id: string;
  userId: string;
  createTime: number;
  lastUseTime: number;
  expireTime: number;
  userAgent: string;
  clientAddress: string;
}

export const refreshKey = (hash: string) => `fm:rt:${hash}`;
export const hashToken = (token: string) => createHash("sha256").update(token).digest("base64url");
const newRefreshToken = () => randomBytes(32).toString("base64url");

function truncateUtf8(s: string, maxBytes: number): string {
  let out = "";
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

// One script rather than MULTI/EXEC (as atomic): a script goes out through ioredis's
// auto-pipeline, so Login's throttle script, issued in the same turn, shares its write and its
// round trip (each socket write wakes Redis; on a VM that costs more than the commands).
// KEYS: session, user's sessions, refresh token. ARGV: uid, now, exp, ua, ip, rth, session TTL,
// absolute TTL, sid.
const CREATE_SESSION = redisScript(`
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'ct', ARGV[2], 'lu', ARGV[2], 'exp', ARGV[3], 'ua', ARGV[4], 'ip', ARGV[5], 'rth', ARGV[6], 'gen', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('SET', KEYS[3], ARGV[9], 'PX', ARGV[8])
return 1`);

export async function createSession(
  redis: Redis,
  s: SessionSettings,
  info: { userId: string; userAgent: string; clientAddress: string },
  now = Date.now(),
): Promise<{ sessionId: string; refreshToken: string; expireTime: number }> {
  const sessionId = randomBytes(16).toString("base64url");
  const refreshToken = newRefreshToken();
  const rth = hashToken(refreshToken);
  const expireTime = now + s.absoluteMs;
  await CREATE_SESSION(
    redis,
    [sessionKey(sessionId), userSessionsKey(info.userId), refreshKey(rth)],
    [
      info.userId,
      now,
      expireTime,
      // ≤ 64 bytes keeps the hash in Redis' compact listpack encoding (~300 B per session
      // instead of ~740 B); enough to tell devices apart in ListSessions.
      truncateUtf8(info.userAgent, 64),
      info.clientAddress.slice(0, 64),
      rth,
      Math.min(s.idleMs, s.absoluteMs),
      s.absoluteMs,
      sessionId,
    ],
  );
  return { sessionId, refreshToken, expireTime };
}

// Keys these scripts name themselves carry the client's run prefix (P, the last ARGV).
const END_SESSION = `
local P = ARGV[#ARGV]
local function end_session(sid)
  local skey = P .. 'fm:sess:' .. sid
  local uid = redis.call('HGET', skey, 'uid')
  local rth = redis.call('HGET', skey, 'rth')
  redis.call('DEL', skey)
  if rth then redis.call('DEL', P .. 'fm:rt:' .. rth) end
  if uid then redis.call('ZREM', P .. 'fm:usess:' .. uid, sid) end
  return uid
end
`;

const REFRESH = redisScript(`${END_SESSION}
local v = redis.call('GET', KEYS[1])
if not v then return {'unknown'} end
if string.sub(v, 1, 6) == 'spent:' then
  local sid = string.sub(v, 7)
  local uid = end_session(sid)
  return {'reused', sid, uid or ''}
end
local sid = v
local skey = P .. 'fm:sess:' .. sid
local uid = redis.call('HGET', skey, 'uid')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = tonumber(redis.call('HGET', skey, 'exp') or '0')
if not uid or exp <= now then
  redis.call('DEL', KEYS[1])
  return {'ended'}
end
redis.call('SET', KEYS[1], 'spent:' .. sid, 'PX', exp - now)
redis.call('SET', P .. 'fm:rt:' .. ARGV[1], sid, 'PX', exp - now)
redis.call('HSET', skey, 'rth', ARGV[1], 'lu', now)
redis.call('HINCRBY', skey, 'gen', 1)
redis.call('PEXPIRE', skey, math.min(tonumber(ARGV[2]), exp - now))
return {'ok', sid, uid}`);

export type RefreshOutcome =
  | { kind: "ok"; sessionId: string; userId: string; refreshToken: string }
  | { kind: "reused"; sessionId: string; userId: string }
  | { kind: "unknown" | "ended" };

export async function rotateRefreshToken(
  redis: Redis,
  s: SessionSettings,
  token: string,
): Promise<RefreshOutcome> {
  const next = newRefreshToken();
  const [kind, sid, uid] = (await REFRESH(
    redis,
    [refreshKey(hashToken(token))],
    [hashToken(next), s.idleMs, keyPrefixOf(redis)],
  )) as [string, string?, string?];
  if (kind === "ok") return { kind, sessionId: sid!, userId: uid!, refreshToken: next };
  if (kind === "reused") return { kind, sessionId: sid!, userId: uid ?? "" };
  return { kind: kind === "ended" ? "ended" : "unknown" };
}

const END_ONE = redisScript(`${END_SESSION}
local uid = redis.call('HGET', P .. 'fm:sess:' .. ARGV[1], 'uid')
if not uid or (ARGV[2] ~= '' and uid ~= ARGV[2]) then return 0 end
end_session(ARGV[1])
return 1`);

/** Ends one session (of `userId` when given). Returns whether it existed. */
export async function endSession(redis: Redis, sessionId: string, userId = ""): Promise<boolean> {
  return (await END_ONE(redis, [], [sessionId, userId, keyPrefixOf(redis)])) === 1;
}

/** Ends every session of the user except `keep`; returns the ended session ids. */
export async function endUserSessions(redis: Redis, userId: string, keep?: string): Promise<string[]> {
  const ids = await redis.zrange(userSessionsKey(userId), "0", "-1");
  const ended: string[] = [];
  for (const sid of ids) {
    if (sid === keep) continue;
    if (await endSession(redis, sid, userId)) ended.push(sid);
  }
  return ended;
}

/** The user's live sessions, newest first; prunes index entries of sessions gone idle. */
export async function listSessions(redis: Redis, userId: string): Promise<SessionInfo[]> {
  const ids = await redis.zrangebyscore(userSessionsKey(userId), String(Date.now()), "+inf");
  const pipe = redis.pipeline();
  for (const sid of ids) pipe.hgetall(sessionKey(sid));
  const rows = (await pipe.exec()) ?? [];
  const out: SessionInfo[] = [];
  const gone: string[] = [];
  rows.forEach(([err, h], i) => {
    const r = h as Record<string, string> | null;
    if (err || !r || r.uid !== userId) {
      gone.push(ids[i]!);
      return;
    }
    out.push({
      id: ids[i]!,
      userId,
      createTime: Number(r.ct),
      lastUseTime: Number(r.lu),
      expireTime: Number(r.exp),
      userAgent: r.ua ?? "",
      clientAddress: r.ip ?? "",
    });
  });
  if (gone.length) await redis.zrem(userSessionsKey(userId), ...gone);
  return out.sort((a, b) => b.createTime - a.createTime);
}
