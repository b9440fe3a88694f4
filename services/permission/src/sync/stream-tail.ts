// The blocking read loop on the change stream: hands every entry to `onEntries` and keeps
// going through Redis errors (logged once per outage; Postgres polling covers the gap).
import type { Logger, Redis } from "@filemesh/kit";
import { readChangesAfter, type StreamEntry } from "./change-stream.js";
import { delay } from "./waiters.js";

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
      o.onEntries(await readChangesAfter(o.redis, o.key(), o.from(), 1000, 1000));
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
