// redisScript against the real Redis: runs by SHA, and after SCRIPT FLUSH (as after a Redis
// restart) loads the script again instead of failing with NOSCRIPT.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { redisScript } from "../src/redis.js";

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
afterAll(() => redis.quit());

const INCR_BY = redisScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`);

describe("redisScript", () => {
  it("runs with keys and arguments, and survives a script cache flush", async () => {
    const key = `fm:test:script:${randomUUID()}`;
    try {
      expect(await INCR_BY(redis, [key], [2])).toBe(2);
      await redis.script("FLUSH");
      expect(await INCR_BY(redis, [key], [3])).toBe(5);
      expect(await INCR_BY(redis, [key], [1])).toBe(6);
    } finally {
      await redis.del(key);
    }
  });

  it("passes other errors through", async () => {
    const BAD = redisScript(`return redis.call('NOSUCHCOMMAND')`);
    await expect(BAD(redis, [])).rejects.toThrow(/unknown command|Unknown Redis command/i);
  });
});
