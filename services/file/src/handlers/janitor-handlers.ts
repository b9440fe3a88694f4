// The janitor's operations (internal; only the processor calls them, and loops while there
// is more): ExpireUploads, PurgeTrash and ReconcileObjects (reconcile.ts). Each call is
// bounded by max_items and safe to run on several replicas at once.
import type { filev1 } from "@filemesh/contracts";
import { type CallContext, inTransaction, invalidArgument } from "@filemesh/kit";
import type { FileDeps } from "../domain/deps.js";
import { deleteForGood } from "../domain/permanent-delete.js";
import { reconcileStep } from "../domain/reconcile.js";
import { releaseExpired } from "../domain/upload-sessions.js";
import type { FileRow } from "../store/files.js";
import { anyOverdueSession, trashRootsBefore } from "../store/janitor.js";
import { releaseLapsed } from "../store/reservations.js";

/** max_items: 0 → 100, at most 1000; negative → INVALID_ARGUMENT. */
export function maxItems(n: number): number {
  if (n < 0) {
    throw invalidArgument("INVALID_MAX_ITEMS", "max_items must not be negative", [
      { field: "max_items", description: "negative" },
    ]);
  }
  return n === 0 ? 100 : Math.min(n, 1000);
}

function cutoffOf(t: Date | undefined): Date {
  if (!t || Number.isNaN(t.getTime())) {
    throw invalidArgument("CUTOFF_REQUIRED", "cutoff_time is required", [
      { field: "cutoff_time", description: "required" },
    ]);
  }
  return t;
}

export function createJanitorHandlers(deps: FileDeps) {
  return {
    async expireUploads(
      req: filev1.ExpireUploadsRequest,
      ctx: CallContext,
    ): Promise<filev1.ExpireUploadsResponse> {
      const limit = maxItems(req.maxItems);
      const before = req.cutoffTime ?? new Date();
      // The same path as the lazy expiry on the owner's next call, for every owner at once.
      const expired = await releaseExpired(deps, { before, limit });
      // And raw uploads' reservations whose process stopped renewing them (killed mid-body).
      const lapsed = await inTransaction(deps.pool, (tx) =>
        releaseLapsed(tx, deps.settings.reservationLeaseMs, limit),
      );
      const more = lapsed === limit || (expired === limit && (await anyOverdueSession(deps.pool, before)));
      if (expired) ctx.log.info({ expired, more }, "janitor: upload sessions expired");
      if (lapsed) ctx.log.info({ lapsed }, "janitor: lapsed raw upload reservations released");
      return { expired, more };
    },

    async purgeTrash(req: filev1.PurgeTrashRequest, ctx: CallContext): Promise<filev1.PurgeTrashResponse> {
      const cutoff = cutoffOf(req.cutoffTime);
      const limit = maxItems(req.maxItems);
      const roots = await trashRootsBefore(deps.pool, cutoff, limit + 1);
      const purged: string[] = [];
      // Checked again on the locked row: restored (or purged) meanwhile is left alone.
      const stillOld = (cur: FileRow) =>
        cur.trash_root_id === cur.id && cur.trash_time !== null && cur.trash_time < cutoff;
      for (const id of roots.slice(0, limit)) {
        if (await deleteForGood(deps, ctx, id, stillOld)) purged.push(id);
      }
      if (purged.length) ctx.log.info({ purged }, "janitor: trash purged");
      return { purged: purged.length, more: roots.length > limit };
    },

    async reconcileObjects(
      req: filev1.ReconcileObjectsRequest,
      ctx: CallContext,
    ): Promise<filev1.ReconcileObjectsResponse> {
      return reconcileStep(deps, ctx, cutoffOf(req.cutoffTime), maxItems(req.maxItems), req.pageToken);
    },
  };
}
