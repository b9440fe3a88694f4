import type { Redis } from "ioredis";

/**
 * The same Redis, counting the Lua script calls made through it (`evalsha`: one per rate-limit
 * lease, kit redisScript); with `down` set they fail as a lost connection would.
 */
export function countingScripts(redis: Redis): { redis: Redis; counter: { calls: number; down: boolean } } {
  const counter = { calls: 0, down: false };
  const proxy = new Proxy(redis, {
    get(target, prop) {
      if (prop === "evalsha") {
        return (...args: Parameters<Redis["evalsha"]>) => {
          counter.calls++;
          return counter.down ? Promise.reject(new Error("Connection is closed.")) : target.evalsha(...args);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { redis: proxy, counter };
}
