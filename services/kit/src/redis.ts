import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import type { Logger } from "./logger.js";
import { runKeyPrefix } from "./run-prefix.js";

export { Redis } from "ioredis";

/**
 * ioredis client that reconnects forever but fails commands fast while Redis is away. Every key
 * gets the run's prefix (REDIS_PREFIX, else RUN_PREFIX); a Lua script naming keys itself adds `keyPrefixOf(redis)`.
 */
export function createRedis(url: string, log: Logger, name = "main", redisPrefix = ""): Redis {
  const keyPrefix = runKeyPrefix(redisPrefix);
  const redis = new Redis(url, {
    connectionName: `filemesh-${name}`,
    ...(keyPrefix ? { keyPrefix } : {}),
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // A command that gets no answer fails after a second (fail closed fast, not after retries).
    commandTimeout: 1_000,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
  });
  let down = false;
  redis.on("error", (err) => {
    if (!down) log.warn({ err: err.message, redis: name }, "redis error");
    down = true;
  });
  redis.on("ready", () => {
    if (down) log.info({ redis: name }, "redis reconnected");
    down = false;
  });
  return redis;
}

/** The prefix ioredis puts before every key of this client ("" without a run prefix). */
export const keyPrefixOf = (redis: Redis): string => redis.options.keyPrefix ?? "";

export type RedisScript = (
  redis: Redis,
  keys: readonly string[],
  args?: readonly (string | number)[],
) => Promise<unknown>;

/**
 * A Lua script run by its SHA-1 (EVALSHA), so the source crosses the wire once per Redis
 * process rather than on every call; after a Redis restart or SCRIPT FLUSH the first call
 * falls back to EVAL, which loads it again.
 */
export function redisScript(source: string): RedisScript {
  const sha = createHash("sha1").update(source).digest("hex");
  return async (redis, keys, args = []) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
      return redis.eval(source, keys.length, ...keys, ...args);
    }
  };
}
