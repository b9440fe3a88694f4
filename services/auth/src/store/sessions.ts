// Sessions in Redis: a hash per session with idle and absolute timeouts, an index of each
// user's sessions, and the hashed refresh token pointing at its session.
import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "@filemesh/kit";

export interface SessionSettings {
  idleMs: number;
  absoluteMs: number;
}

export interface NewSession {
  sessionId: string;
  refreshToken: string;
  expireTime: number;
}

export const sessionKey = (sid: string) => `fm:sess:${sid}`;
export const userSessionsKey = (uid: string) => `fm:usess:${uid}`;
export const refreshKey = (hash: string) => `fm:rt:${hash}`;
export const hashToken = (token: string) => createHash("sha256").update(token).digest("base64url");

export async function createSession(
  redis: Redis,
  s: SessionSettings,
  info: { userId: string; userAgent: string; clientAddress: string },
  now = Date.now(),
): Promise<NewSession> {
  const sessionId = randomBytes(16).toString("base64url");
  const refreshToken = randomBytes(32).toString("base64url");
  const family = randomBytes(12).toString("base64url");
  const expireTime = now + s.absoluteMs;
  const ttl = Math.min(s.idleMs, s.absoluteMs);
  await redis
    .multi()
    .hset(sessionKey(sessionId), {
      uid: info.userId,
      ct: now,
      lu: now,
      exp: expireTime,
      ua: info.userAgent.slice(0, 256),
      ip: info.clientAddress.slice(0, 64),
      fam: family,
      gen: 0,
    })
    .pexpire(sessionKey(sessionId), ttl)
    .zadd(userSessionsKey(info.userId), expireTime, sessionId)
    .pexpire(userSessionsKey(info.userId), s.absoluteMs)
    .set(refreshKey(hashToken(refreshToken)), `${sessionId}:${family}:0`, "PX", ttl)
    .exec();
  return { sessionId, refreshToken, expireTime };
}
