// Keeps a recent snapshot in Redis: writes one when there is none (first start, Redis
// restarted or flushed) or when the index moved `every` revisions past it. One replica at a
// time (a lock key with a time-out); only from a fresh index.
import { randomUUID } from "node:crypto";
import type { Logger, Redis } from "@filemesh/kit";
import type { IndexSync } from "./index-sync.js";
import { readHeader, type SnapshotHeader, writeSnapshot } from "./snapshot.js";

export interface SnapshotKeeper {
  /** Writes a snapshot now if this replica gets the lock; undefined when another holds it. */
  writeNow(): Promise<SnapshotHeader | undefined>;
  stop(): void;
}

export function startSnapshotKeeper(o: {
  sync: IndexSync;
  redis: Redis;
  log: Logger;
  intervalMs: number;
  every: number;
}): SnapshotKeeper {
  let busy = false;
  const writeNow = async (): Promise<SnapshotHeader | undefined> => {
    const { keys, instance } = o.sync;
    const token = randomUUID();
    if ((await o.redis.set(keys.snapshotLock, token, "PX", 120_000, "NX")) !== "OK") return undefined;
    try {
      const started = performance.now();
      const header = await writeSnapshot(o.redis, keys, instance, o.sync.index);
      o.log.info(
        { revision: header.revision, tuples: header.tuples, ms: Math.round(performance.now() - started) },
        "acl snapshot written",
      );
      return header;
    } finally {
      if ((await o.redis.get(keys.snapshotLock)) === token) await o.redis.del(keys.snapshotLock);
    }
  };
  const tick = async () => {
    if (busy || !o.sync.fresh()) return;
    busy = true;
    try {
      const header = await readHeader(o.redis, o.sync.keys, o.sync.instance);
      if (!header || o.sync.index.revision - header.revision >= o.every) await writeNow();
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, "acl snapshot not written");
    } finally {
      busy = false;
    }
  };
  const first = setTimeout(() => void tick(), 100);
  const timer = setInterval(() => void tick(), o.intervalMs);
  first.unref();
  timer.unref();
  return {
    writeNow,
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
