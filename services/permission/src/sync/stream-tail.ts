// The blocking read loop on the change stream: hands every entry to `onEntries` and keeps
// going through Redis errors (logged once per outage; Postgres polling covers the gap).
import type { Logger, Redis } from "@filemesh/kit";
import { readChangesAfter, type StreamEntry } from "./change-stream.js";
import { delay } from "./waiters.js";

/**
 * How long one read blocks: shorter than the kit's Redis command timeout (1 s), or every read
 * of a quiet stream failed as "Command timed out" and the tail slept and polled instead of
 * waiting (test/faults found the warning on every replica).
 */
export const TAIL_BLOCK_MS = 500;

export async function tailStream(o: {
  redis: Redis;
  key: () => string;
  /** Revision to read after (the larger of the index revision and the last entry seen). */
  from: () => number;
  onEntries: (entries: StreamEntry[]) => void;
  stopped: () => boolean;
  log: Logger;
}): Promise<void> {
  let failing = false;
  while (!o.stopped()) {
    try {
      o.onEntries(await readChangesAfter(o.redis, o.key(), o.from(), TAIL_BLOCK_MS, 1000));
      failing = false;
    } catch (err) {
      if (o.stopped()) return;
      if (!failing)
        o.log.warn({ err: (err as Error).message }, "acl stream read failed; Postgres polling covers it");
      failing = true;
      await delay(250);
    }
  }
}
