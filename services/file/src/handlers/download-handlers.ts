// Downloads: GetFileContent (REST raw body, stream of HttpBody), ReadFile (native stream:
// metadata first, then data) — both with offset/length and an optional version, streamed
// from the store without buffering — and GetDownloadUrl (short-lived presigned URL, s3; the
// CDN's signed URL when one is configured: domain/download-url.ts).
// Only READY content is served; content missing from the store is NOT_FOUND, never INTERNAL.
// Raw downloads send their HTTP headers as response metadata.
import type { filev1 } from "@filemesh/contracts";
import { type CallContext, ChunkPool } from "@filemesh/kit";
import { attachmentDisposition } from "@filemesh/kit/blob";
import { DATA_PREFIX } from "../data/server.js";
import { authorize, callerId } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { downloadUrl } from "../domain/download-url.js";
import { authorizeContent, contentChunks, rangeOf, sendDownloadHeaders } from "../domain/serve.js";
import { toFile } from "../domain/views.js";
import { presignUnsupported } from "./session-handlers.js";

export function createDownloadHandlers(deps: FileDeps) {
  const { blobs, settings } = deps;
  return {
    async *getFileContent(req: filev1.GetFileContentRequest, ctx: CallContext) {
      const { file, v } = await authorizeContent(deps, ctx, req.fileId, req.versionId);
      const range = rangeOf(req.offset, req.length, v.size_bytes);
      sendDownloadHeaders(ctx, file.name, range);
      const pool = new ChunkPool(settings.downloadChunkBytes);
      let first = true;
      for await (const data of contentChunks(deps, v, range, pool)) {
        yield pool.message({ contentType: first ? v.content_type : "", data, extensions: [] }, data);
        first = false;
      }
      if (first) yield { contentType: v.content_type, data: Buffer.alloc(0), extensions: [] };
    },

    async *readFile(req: filev1.ReadFileRequest, ctx: CallContext): AsyncGenerator<filev1.ReadFileResponse> {
      const { file, v } = await authorizeContent(deps, ctx, req.fileId, req.versionId);
      const range = rangeOf(req.offset, req.length, v.size_bytes);
      yield { file: toFile(file) };
      const pool = new ChunkPool(settings.downloadChunkBytes);
      for await (const data of contentChunks(deps, v, range, pool)) yield pool.message({ data }, data);
    },

    async createDownloadTicket(
      req: filev1.CreateDownloadTicketRequest,
      ctx: CallContext,
    ): Promise<filev1.CreateDownloadTicketResponse> {
      const principal = callerId(ctx);
      // The file and its version in one query (a download's only one).
      const { file, v } = await authorizeContent(deps, ctx, req.fileId, req.versionId);
      const range = rangeOf(req.offset, req.length, v.size_bytes);
      const size = Number(v.size_bytes);
      const whole = range.offset === 0 && range.length === size;
      const view = {
        offset: String(range.offset),
        length: String(range.length),
        sizeBytes: v.size_bytes,
        contentType: v.content_type,
        contentDisposition: attachmentDisposition(file.name),
        etag: whole ? `"${v.sha256}"` : `"${v.sha256}:${range.offset}-${range.length}"`,
        versionId: v.id,
      };
      if (blobs.presigns) {
        const expiresInSeconds = Math.max(1, Math.floor(settings.ticketExpiryMs / 1000));
        const { url, expireTime } = await downloadUrl(deps, v, file.name, expiresInSeconds);
        return { url, ticket: "", expireTime, ...view };
      }
      const expire = Date.now() + settings.ticketExpiryMs;
      const ticket = deps.tickets.mint({
        d: "r",
        k: v.object_key,
        o: range.offset,
        l: range.length,
        s: size,
        e: expire,
        p: principal,
        f: file.id,
        v: v.id,
        t: view.contentType,
        c: view.contentDisposition,
        h: view.etag,
      });
      return { url: DATA_PREFIX + ticket, ticket, expireTime: new Date(expire), ...view };
    },

    async getDownloadUrl(
      req: filev1.GetDownloadUrlRequest,
      ctx: CallContext,
    ): Promise<filev1.GetDownloadUrlResponse> {
      if (!blobs.presigns) {
        await authorize(deps, ctx, req.fileId, "read"); // not found / denied first, as always
        throw presignUnsupported();
      }
      // The file and its version in one query (as a download reads them).
      const { file, v } = await authorizeContent(deps, ctx, req.fileId, req.versionId);
      const expiresInSeconds = Math.max(1, Math.floor(settings.presignExpiryMs / 1000));
      return downloadUrl(deps, v, file.name, expiresInSeconds);
    },
  };
}
