import { Redis } from "ioredis";
import type { Logger } from "./logger.js";

export { Redis } from "ioredis";

/** ioredis client that reconnects forever but fails commands fast while Redis is away. */
export function createRedis(url: string, log: Logger, name = "main"): Redis {
  const redis = new Redis(url, {
    connectionName: `filemesh-${name}`,
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
