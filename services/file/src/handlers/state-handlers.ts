// File states: SetFileState (internal, the processor marks a version READY or REJECTED) and
// WatchFile (follows a file until it is READY or REJECTED). Open watches are bounded per user
// and per replica, live at most WATCH_MAX_LIFETIME, and ask again whether their caller may
// still read the file at least every WATCH_RECHECK_INTERVAL and on every change.
import { setTimeout as sleep } from "node:timers/promises";
import type { filev1 } from "@filemesh/contracts";
import {
  appendEvents,
  type CallContext,
  inTransaction,
  invalidArgument,
  notFound,
  resourceExhausted,
} from "@filemesh/kit";
import { authorize, callerId, FILE_NOT_FOUND, requireOn } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { fileEvents } from "../domain/events.js";
import { createSlots } from "../domain/slots.js";
import { toFile } from "../domain/views.js";
import { getFile, STATE, updateFile } from "../store/files.js";
import { getVersion, setVersionState } from "../store/versions.js";

const FINAL = new Set<number>([STATE.READY, STATE.REJECTED]);

const WATCH_RETRY_MS = 1000;

export function createStateHandlers(deps: FileDeps, o: { pollMs?: number } = {}) {
  const { pool, settings } = deps;
  const watches = createSlots({
    perUser: settings.watchStreamsPerUser,
    perProcess: settings.watchStreamsPerProcess,
    userFull: () =>
      resourceExhausted(
        "TOO_MANY_WATCHES",
        `at most ${settings.watchStreamsPerUser} WatchFile streams of one user are open at once; close one first`,
        WATCH_RETRY_MS,
      ),
    processFull: () =>
      resourceExhausted(
        "WATCH_CAPACITY",
        "too many WatchFile streams are open; retry shortly",
        WATCH_RETRY_MS,
      ),
  });
  return {
    async setFileState(
      req: filev1.SetFileStateRequest,
      ctx: CallContext,
    ): Promise<filev1.SetFileStateResponse> {
      if (!FINAL.has(req.state)) {
        throw invalidArgument("INVALID_STATE", "state must be READY or REJECTED", [
          { field: "state", description: "READY or REJECTED" },
        ]);
      }
      const out = await inTransaction(pool, async (tx) => {
        const file = await getFile(tx, req.fileId, true);
        if (!file) throw FILE_NOT_FOUND();
        const v = /^[0-9a-f-]{36}$/i.test(req.versionId)
          ? await getVersion(tx, file.id, req.versionId)
          : undefined;
        if (!v) throw notFound("VERSION_NOT_FOUND", "no such version of this file");
        if (v.state === req.state) {
          // A redelivered event: applied already — except a thumbnail the processor made for a
          // version that was READY before it decided (FILES_READY_ON_COMMIT with a processor).
          const late = file.current_version_id === v.id && req.hasThumbnail && !file.has_thumbnail;
          return late ? updateFile(tx, file.id, { has_thumbnail: true }) : file;
        }
        await setVersionState(tx, v.id, req.state, req.contentType);
        const state = req.state === STATE.READY ? "READY" : "REJECTED";
        await appendEvents(tx, "files", [
          fileEvents.stateChanged(ctx, file.id, v.id, state, req.stateReason),
        ]);
        if (file.current_version_id !== v.id) return file;
        return updateFile(tx, file.id, {
          state: req.state,
          state_reason: req.stateReason,
          content_type: req.contentType || file.content_type,
          has_thumbnail: req.hasThumbnail,
        });
      });
      return { file: toFile(out) };
    },

    async *watchFile(
      req: filev1.WatchFileRequest,
      ctx: CallContext,
    ): AsyncGenerator<filev1.WatchFileResponse> {
      const release = watches.take(callerId(ctx));
      try {
        let row = await authorize(deps, ctx, req.fileId, "read", { trashed: true });
        yield { file: toFile(row) };
        const endAt = Date.now() + settings.watchMaxLifetimeMs;
        let checkedAt = Date.now();
        while (!FINAL.has(row.state) && !ctx.signal.aborted && Date.now() < endAt) {
          const pause = Math.min(o.pollMs ?? 500, endAt - Date.now());
          await sleep(pause, undefined, { signal: ctx.signal }).catch(() => {});
          if (ctx.signal.aborted) return;
          const next = await getFile(pool, row.id);
          if (!next) return;
          // A revoked watcher is refused (NOT_FOUND, as if the file were gone) before it sees
          // another change, and within WATCH_RECHECK_INTERVAL (+ one poll) when nothing changes.
          if (next.etag !== row.etag || Date.now() - checkedAt >= settings.watchRecheckMs) {
            await requireOn(deps, ctx, next, "read");
            checkedAt = Date.now();
          }
          if (next.etag !== row.etag) yield { file: toFile(next) };
          row = next;
        }
      } finally {
        release();
      }
    },
  };
}
