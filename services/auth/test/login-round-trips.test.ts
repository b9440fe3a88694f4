// Login's Redis work after the password proved right: the throttle's attempt taken back and the
// session made, in one write to Redis (both scripts, auto-pipelined), and what is left when the
// first of them fails. Real Redis; the account row comes from a stub pool (pure lookup).
import { randomBytes, randomUUID } from "node:crypto";
import { type CallContext, createRedis, type Redis, sessionKey, userSessionsKey } from "@filemesh/kit";
import { captureLogger, dropRun, tempKeyDir, uniqueId } from "@filemesh/kit/testing";
import bcrypt from "bcrypt";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHasher, preHash } from "../src/domain/hasher.js";
import { createThrottle, DEFAULT_THROTTLE, type Throttle } from "../src/domain/throttle.js";
import { loadKeyRing } from "../src/domain/tokens.js";
import { createAuthHandlers } from "../src/handlers/auth-handlers.js";
import type { AuthDeps } from "../src/handlers/deps.js";
import type { AccountRow } from "../src/store/accounts.js";

const pepper = randomBytes(32).toString("base64url");
const password = "correct horse battery staple 7";
const { log } = captureLogger("auth", "warn");
const redisPrefix = uniqueId("lrt");
let redis: Redis;
let passwordHash: string;

beforeAll(async () => {
  redis = createRedis("redis://127.0.0.1:6379", log, "sessions", redisPrefix);
  await redis.ping();
  passwordHash = await bcrypt.hash(preHash(pepper, password), 4);
});
afterAll(async () => {
  await redis.quit();
  await dropRun("", redisPrefix);
});

function depsFor(userId: string, throttle: Throttle): AuthDeps {
  const keys = loadKeyRing(tempKeyDir());
  const row: AccountRow = {
    id: userId,
    email: "",
    displayName: "x",
    passwordHash,
    createTime: new Date(),
    disableTime: null,
    admin: false,
  };
  const pool = {
    query: async () => ({ rows: [row] }),
  } as unknown as pg.Pool;
  return {
    pool,
    readPool: pool,
    redis,
    hasher: createHasher({ pepper, cost: 4, concurrency: 2, queue: 8 }),
    throttle,
    isCommonPassword: () => false,
    keys: () => keys,
    tokens: { issuer: "filemesh-auth", audience: "filemesh", ttlMs: 900_000 },
    sessions: { idleMs: 3_600_000, absoluteMs: 86_400_000 },
    clientOf: () => "10.1.2.3",
    pageTokens: undefined as unknown as AuthDeps["pageTokens"],
    emit: async () => undefined,
  };
}

const ctx = { metadata: { get: () => [] }, log } as unknown as CallContext;
const loginOf = (deps: AuthDeps, email: string) =>
  createAuthHandlers(deps).login({ email, password }, ctx) as Promise<{ sessionId: string; userId: string }>;

describe("login's Redis round trips", () => {
  it("takes the attempt back and makes the session in one write", async () => {
    const userId = randomUUID();
    const deps = depsFor(userId, createThrottle(redis, DEFAULT_THROTTLE));
    const stream = (redis as unknown as { stream: { write: (...a: unknown[]) => boolean } }).stream;
    const write = stream.write.bind(stream);
    let writes = 0;
    stream.write = (...a: unknown[]) => {
      writes++;
      return write(...a);
    };
    try {
      const out = await loginOf(deps, `${uniqueId("u")}@example.com`);
      // BEGIN, then END and CREATE_SESSION together (EVAL's fallback would add one each).
      expect(writes).toBe(2);
      expect(out.userId).toBe(userId);
      const session = await redis.hgetall(sessionKey(out.sessionId));
      expect(session).toMatchObject({ uid: userId, ip: "10.1.2.3", ua: "", gen: "0" });
      expect(Number(session.exp) - Number(session.ct)).toBe(86_400_000);
      expect(session.lu).toBe(session.ct);
      const ttl = await redis.pttl(sessionKey(out.sessionId));
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
      expect(await redis.zscore(userSessionsKey(userId), out.sessionId)).toBe(session.exp);
      expect(await redis.pttl(userSessionsKey(userId))).toBeGreaterThan(86_000_000);
      expect(await redis.get(`fm:rt:${session.rth}`)).toBe(out.sessionId);
    } finally {
      stream.write = write;
    }
  });

  it("fails the login and leaves no session when the attempt cannot be taken back", async () => {
    const userId = randomUUID();
    const real = createThrottle(redis, DEFAULT_THROTTLE);
    const broken: Throttle = {
      begin: real.begin,
      cancel: real.cancel,
      succeed: async () => {
        throw Object.assign(new Error("redis went away"), { reason: "THROTTLE_UNAVAILABLE" });
      },
    };
    const sessionKeys = () => redis.keys(`${redis.options.keyPrefix ?? ""}fm:sess:*`);
    const before = await sessionKeys();
    await expect(loginOf(depsFor(userId, broken), `${uniqueId("u")}@example.com`)).rejects.toMatchObject({
      reason: "THROTTLE_UNAVAILABLE",
    });
    expect(await redis.zcard(userSessionsKey(userId))).toBe(0);
    expect((await sessionKeys()).sort()).toEqual(before.sort());
  });
});
