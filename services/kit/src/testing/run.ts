// Removes what one run left on the shared NATS and Redis: the streams of RUN_PREFIX (and with
// them their consumers) and the keys of REDIS_PREFIX ("" = leave alone). Test meshes call it
// when they stop.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { checkRunPrefix, runKeyPrefix, runName } from "../run-prefix.js";

export async function dropRun(
  prefix: string,
  redisPrefix: string,
  opts: { natsUrl?: string | undefined; redisUrl?: string | undefined } = {},
): Promise<{ streams: number; keys: number }> {
  let streams = 0;
  let keys = 0;
  // Best effort: a test may have stopped its own NATS or Redis already.
  const nc = checkRunPrefix(prefix)
    ? await connect({ servers: opts.natsUrl ?? "nats://127.0.0.1:4222", timeout: 2000 }).catch(
        () => undefined,
      )
    : undefined;
  if (nc)
    try {
      const jsm = await jetstreamManager(nc);
      for await (const name of jsm.streams.names()) {
        if (!name.startsWith(runName(prefix, ""))) continue;
        await jsm.streams.delete(name).catch(() => undefined);
        streams++;
      }
    } catch {
      // left for the next cleanup
    } finally {
      await nc.close();
    }
  if (!checkRunPrefix(redisPrefix)) return { streams, keys };
  const redis = new Redis(opts.redisUrl ?? "redis://127.0.0.1:6379", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${runKeyPrefix(redisPrefix)}*`, "COUNT", 500);
      cursor = next;
      if (found.length) keys += await redis.unlink(...found);
    } while (cursor !== "0");
  } catch {
    // left for the next cleanup (keys expire or are tiny)
  } finally {
    redis.disconnect();
  }
  return { streams, keys };
}
