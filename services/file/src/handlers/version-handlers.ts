// Versions: ListFileVersions (every stored content of a file, newest first; download one with
// GetFileContent / ReadFile and its version_id), RestoreFileVersion (an older version's bytes,
// copied in the store, become the newest version) and GetFileThumbnail (the processor's
// thumbnail of a version, as raw bytes).
import type { filev1 } from "@filemesh/contracts";
import { type CallContext, invalidArgument, notFound, outsideCall, pageSize } from "@filemesh/kit";
import { attachmentDisposition, BlobNotFoundError, newObjectKey, thumbnailKey } from "@filemesh/kit/blob";
import { authorize, callerId } from "../domain/access.js";
import { commitOnce } from "../domain/commit.js";
import type { FileDeps } from "../domain/deps.js";
import { servable } from "../domain/serve.js";
import { toFile } from "../domain/views.js";
import { adjust, claim } from "../store/usage.js";
import { listVersions } from "../store/versions.js";

const thumbnailNotFound = () =>
  notFound(
    "THUMBNAIL_NOT_FOUND",
    "this version has no thumbnail (not an image, too large, or not processed yet)",
  );

/** A thumbnail larger than this is not one the processor made (it is never streamed). */
const MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024;

export function createVersionHandlers(deps: FileDeps) {
  const { pool, blobs, settings } = deps;
  return {
    async listFileVersions(
      req: filev1.ListFileVersionsRequest,
      ctx: CallContext,
    ): Promise<filev1.ListFileVersionsResponse> {
      const file = await authorize(deps, ctx, req.fileId, "read", { trashed: true });
      const size = pageSize(req.pageSize);
      const binding = { list: "ListFileVersions", caller: ctx.principal?.subject ?? "", filter: [file.id] };
      const rows = await listVersions(pool, file.id, deps.pageTokens.read(req.pageToken, binding), size + 1);
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

    /**
     * Restoring the current version changes nothing. Otherwise the old version's object is
     * copied (the quota reserved first, as CopyFile does), then committed as a new version of
     * this file through the one commit step (write on the file checked again there; a retry
     * with the same request_id finds the first attempt's result and drops its own copy).
     */
    async restoreFileVersion(
      req: filev1.RestoreFileVersionRequest,
      ctx: CallContext,
    ): Promise<filev1.RestoreFileVersionResponse> {
      const userId = callerId(ctx);
      const file = await authorize(deps, ctx, req.fileId, "write");
      if (!req.versionId) {
        throw invalidArgument("VERSION_REQUIRED", "version_id is required", [
          { field: "version_id", description: "required" },
        ]);
      }
      const v = await servable(deps, file, req.versionId);
      if (v.id === file.current_version_id) return { file: toFile(file) };
      const bytes = BigInt(v.size_bytes);
      await claim(pool, userId, { reserve: bytes, defaultQuota: settings.defaultQuotaBytes });
      let reserved = bytes;
      const key = newObjectKey();
      let copied = false;
      try {
        await blobs.copy(v.object_key, key).catch((err: unknown) => {
          if (err instanceof BlobNotFoundError) {
            throw notFound("CONTENT_MISSING", "the stored content of this version is missing");
          }
          throw err;
        });
        copied = true;
        const { file: row, replayed } = await commitOnce(deps, ctx, {
          userId,
          parentId: file.parent_id ?? "",
          fileId: file.id,
          name: file.name,
          objectKey: key,
          sizeBytes: bytes,
          sha256: v.sha256,
          contentType: v.content_type,
          reservedBytes: bytes,
          requestId: req.requestId,
        });
        if (replayed) {
          await blobs.delete(key).catch(() => {});
          await adjust(pool, userId, { reserved: -bytes }).catch(() => {});
        }
        reserved = 0n;
        return { file: toFile(row) };
      } catch (err) {
        await outsideCall(async () => {
          if (copied) await blobs.delete(key).catch(() => {});
          if (reserved > 0n) await adjust(pool, userId, { reserved: -reserved }).catch(() => {});
        });
        throw err;
      }
    },

    async *getFileThumbnail(req: filev1.GetFileThumbnailRequest, ctx: CallContext) {
      const file = await authorize(deps, ctx, req.fileId, "read");
      const v = await servable(deps, file, req.versionId);
      if (v.id === file.current_version_id && !file.has_thumbnail) throw thumbnailNotFound();
      const source = await blobs.get(thumbnailKey(v.object_key)).catch((err: unknown) => {
        if (err instanceof BlobNotFoundError) throw thumbnailNotFound();
        throw err;
      });
      const parts: Buffer[] = [];
      let size = 0;
      try {
        for await (const raw of source) {
          const b = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
          size += b.length;
          if (size > MAX_THUMBNAIL_BYTES) throw thumbnailNotFound();
          parts.push(b);
        }
      } finally {
        source.destroy();
      }
      ctx.setHeader("content-disposition", attachmentDisposition(`${file.name}.thumbnail.webp`));
      ctx.setHeader("x-content-type-options", "nosniff");
      ctx.setHeader("x-content-length", String(size));
      yield { contentType: "image/webp", data: Buffer.concat(parts, size), extensions: [] };
    },
  };
}
