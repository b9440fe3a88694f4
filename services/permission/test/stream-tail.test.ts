// The change-stream tail on a quiet stream (test/faults found every permission replica logging
// "acl stream read failed … Command timed out" whenever no grant came for a second: the
// blocking read outlasted the kit's Redis command timeout). It waits without an error and
// hands a new entry over at once.
import { permissionv1 } from "@filemesh/contracts";
import { createRedis } from "@filemesh/kit";
import { captureLogger, uniqueId } from "@filemesh/kit/testing";
import { afterAll, expect, it } from "vitest";
import { appendChange, type StreamEntry } from "../src/sync/change-stream.js";
import { tailStream } from "../src/sync/stream-tail.js";

const { log, lines } = captureLogger("permission", "debug");
const redis = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", log, "tail-test");
const writer = createRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", log, "tail-writer");
let stopped = false;
afterAll(() => {
  stopped = true;
  redis.disconnect();
  writer.disconnect();
});

it("waits on a quiet stream without failing, and delivers a new entry at once", async () => {
  const key = `${uniqueId("acl-tail-")}:changes`;
  const seen: { entry: StreamEntry; at: number }[] = [];
  let from = 0;
  void tailStream({
    redis,
    key: () => key,
    from: () => from,
    onEntries: (entries) => {
      for (const entry of entries) {
        seen.push({ entry, at: Date.now() });
        from = entry.revision;
      }
    },
    stopped: () => stopped,
    log,
  });
  await new Promise((r) => setTimeout(r, 2_500)); // quiet for longer than the command timeout
  expect(lines.filter((l) => l.includes("acl stream read failed"))).toEqual([]);
  const sent = Date.now();
  await appendChange(writer, key, permissionv1.Change.fromPartial({ revision: "1" }), 100);
  for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(seen.map((s) => s.entry.revision)).toEqual([1]);
  expect(seen[0]!.at - sent).toBeLessThan(250);
  await writer.del(key);
});
