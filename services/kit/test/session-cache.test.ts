// The session check's positive cache against the real Redis: keyed by the session id, it
// answers only for the user the session was confirmed for, answers without I/O within its
// bound (≤ 1 s), and a revoked session is refused once the bound has passed.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createSessionChecker, sessionKey } from "../src/auth/session-keys.js";

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
afterAll(() => redis.quit());

async function session(uid: string): Promise<string> {
  const sid = randomUUID();
  await redis.hset(sessionKey(sid), { uid, exp: Date.now() + 60_000 });
  await redis.pexpire(sessionKey(sid), 60_000);
  return sid;
}

describe("the session check's cache", () => {
  it("answers only for the user it confirmed, and a revocation bites once its bound has passed", async () => {
    const checker = createSessionChecker(redis, 60_000, 200);
    const [alice, mallory] = [randomUUID(), randomUUID()];
    const sid = await session(alice);
    expect(checker.cachedLive!(sid, alice)).toBe(false); // nothing confirmed yet: ask Redis
    expect(await checker.isLive(sid, alice)).toBe(true);
    expect(checker.cachedLive!(sid, alice)).toBe(true);
    // Another user presenting alice's session id: not from the cache, and Redis says no …
    expect(checker.cachedLive!(sid, mallory)).toBe(false);
    expect(await checker.isLive(sid, mallory)).toBe(false);
    // … which leaves alice's confirmed entry as it was.
    expect(checker.cachedLive!(sid, alice)).toBe(true);
    // Revoked: still answered from the cache within its bound, refused after it.
    await redis.del(sessionKey(sid));
    const revoked = Date.now();
    expect(checker.cachedLive!(sid, alice)).toBe(true);
    while (Date.now() - revoked < 250) await new Promise((r) => setTimeout(r, 20));
    expect(checker.cachedLive!(sid, alice)).toBe(false);
    expect(await checker.isLive(sid, alice)).toBe(false);
  });

  it("keeps nothing with a zero bound (every check asks Redis)", async () => {
    const checker = createSessionChecker(redis, 60_000, 0);
    const uid = randomUUID();
    const sid = await session(uid);
    expect(await checker.isLive(sid, uid)).toBe(true);
    expect(checker.cachedLive!(sid, uid)).toBe(false);
    await redis.del(sessionKey(sid));
    expect(await checker.isLive(sid, uid)).toBe(false);
  });
});
