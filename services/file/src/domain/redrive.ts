// Nothing acknowledged stays PROCESSING for good: a version the processor has not decided on
// PROCESSING_REDRIVE_AFTER after its commit gets its file_uploaded event again (a new event id;
// the processor's decision is idempotent per version: SetFileState of a decided version changes
// nothing). Each replica looks every fifth of that interval; rows are locked, so each stuck
// version is re-driven once per interval, by one replica.
import { randomUUID } from "node:crypto";
import { appendEvents, inTransaction, type Logger, startPeriodic } from "@filemesh/kit";
import type pg from "pg";
import { markRedriven, stuckProcessing } from "../store/redrive.js";
import { fileEvents } from "./events.js";

const BATCH = 100;

/** Re-drives up to one batch of stuck versions; how many. */
export async function redriveStuck(pool: pg.Pool, olderThanMs: number): Promise<number> {
  return inTransaction(pool, async (tx) => {
    const stuck = await stuckProcessing(tx, olderThanMs, BATCH);
    if (stuck.length === 0) return 0;
    const ctx = { requestId: randomUUID(), traceparent: "", principal: { subject: "service:file" } };
    await appendEvents(
      tx,
      "files",
      stuck.map((v) =>
        fileEvents.uploaded(ctx, {
          fileId: v.file_id,
          versionId: v.version_id,
          ownerId: v.owner_id,
          parentId: v.parent_id,
          name: v.name,
          sizeBytes: v.size_bytes,
          sha256: v.sha256,
          objectKey: v.object_key,
          newVersion: v.new_version,
        }),
      ),
    );
    await markRedriven(
      tx,
      stuck.map((v) => v.version_id),
    );
    return stuck.length;
  });
}

/** Looks for stuck versions every fifth of `afterMs`; the returned function stops it. */
export function startRedrive(pool: pg.Pool, afterMs: number, log: Logger): () => void {
  return startPeriodic(
    Math.max(1000, Math.floor(afterMs / 5)),
    async () => {
      const n = await redriveStuck(pool, afterMs);
      if (n) log.warn({ versions: n }, "re-driving versions still PROCESSING (their event was lost)");
    },
    log,
    "re-driving stuck versions failed",
  );
}
