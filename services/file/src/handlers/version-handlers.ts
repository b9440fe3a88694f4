// ListFileVersions: every stored content of a file, newest first (download one with
// GetFileContent / ReadFile and its version_id).
import type { filev1 } from "@filemesh/contracts";
import { type CallContext, pageSize } from "@filemesh/kit";
import { authorize } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { listVersions } from "../store/versions.js";

export function createVersionHandlers(deps: FileDeps) {
  return {
    async listFileVersions(
      req: filev1.ListFileVersionsRequest,
      ctx: CallContext,
    ): Promise<filev1.ListFileVersionsResponse> {
      const file = await authorize(deps, ctx, req.fileId, "read", { trashed: true });
      const size = pageSize(req.pageSize);
      const binding = { list: "ListFileVersions", caller: ctx.principal?.subject ?? "", filter: [file.id] };
      const rows = await listVersions(
        deps.pool,
        file.id,
        deps.pageTokens.read(req.pageToken, binding),
        size + 1,
      );
      const more = rows.length > size;
      const page = more ? rows.slice(0, size) : rows;
      const last = page[page.length - 1];
      return {
        versions: page.map((v) => ({
          id: v.id,
          fileId: v.file_id,
          sizeBytes: v.size_bytes,
          sha256: v.sha256,
          contentType: v.content_type,
          createTime: v.create_time,
          creator: v.creator,
          current: v.id === file.current_version_id,
        })),
        nextPageToken:
          more && last ? deps.pageTokens.issue(binding, [last.create_time.toISOString(), last.id]) : "",
      };
    },
  };
}
