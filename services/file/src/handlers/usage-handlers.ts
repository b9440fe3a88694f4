// GetUsage: the caller's storage accounting (overdue upload sessions are expired first, so
// their reservations no longer count).
import type { filev1 } from "@filemesh/contracts";
import type { CallContext } from "@filemesh/kit";
import { callerId } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { releaseExpired } from "../domain/upload-sessions.js";
import { usageOf } from "../store/usage.js";

export function createUsageHandlers(deps: FileDeps) {
  return {
    async getUsage(_req: filev1.GetUsageRequest, ctx: CallContext): Promise<filev1.GetUsageResponse> {
      const userId = callerId(ctx);
      await releaseExpired(deps, userId);
      const u = await usageOf(deps.pool, userId, deps.settings.defaultQuotaBytes);
      return {
        usage: {
          usedBytes: u.used_bytes,
          reservedBytes: u.reserved_bytes,
          quotaBytes: u.quota_bytes,
          fileCount: u.file_count,
        },
      };
    },
  };
}
