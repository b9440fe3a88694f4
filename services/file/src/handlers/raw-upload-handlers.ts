// UploadFile: a small file as a raw body (POST /v1/files:upload), streamed into the blob store
// while it is counted, hashed and its quota reserved; then the commit step.
import type { filev1 } from "@filemesh/contracts";
import { AppError, type CallContext, Code, invalidArgument } from "@filemesh/kit";
import { newObjectKey } from "@filemesh/kit/blob";
import { callerId, targetFolder } from "../domain/access.js";
import { commitOnce } from "../domain/commit.js";
import { checksumMismatch, declaredSha256, meter } from "../domain/content.js";
import type { FileDeps } from "../domain/deps.js";
import { cleanName } from "../domain/names.js";
import { growingReservation } from "../domain/reservation.js";
import { toFile } from "./views.js";

export const cancelled = () => new AppError(Code.CANCELLED, "CANCELLED", "the upload was cancelled");

/**
 * A client that drops the connection (RST_STREAM) ends the request stream as if it had
 * finished, and the cancellation is only reported a moment later: give it that moment, so a
 * truncated body is never committed.
 */
export async function stillConnected(ctx: CallContext): Promise<void> {
  await new Promise((r) => setImmediate(r));
  if (ctx.signal.aborted) throw cancelled();
}

export function createRawUploadHandlers(deps: FileDeps) {
  const { pool, blobs, settings } = deps;
  return {
    async uploadFile(
      requests: AsyncIterable<filev1.UploadFileRequest>,
      ctx: CallContext,
    ): Promise<filev1.UploadFileResponse> {
      const userId = callerId(ctx);
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) {
        throw invalidArgument("EMPTY_REQUEST", "no request message", [
          { field: "name", description: "required" },
        ]);
      }
      const head = first.value;
      const name = cleanName(head.name);
      const sha256 = declaredSha256(head.sha256);
      const parent = await targetFolder(deps, ctx, head.parentId);
      const quota = growingReservation(pool, userId, settings.defaultQuotaBytes);
      const m = meter({ limit: BigInt(settings.maxRawUploadBytes), onBytes: (n) => quota.cover(n) });
      async function* body() {
        if (head.body?.data.length) yield head.body.data;
        for (let next = await it.next(); !next.done; next = await it.next()) {
          if (next.value.body?.data.length) yield next.value.body.data;
        }
        await stillConnected(ctx);
      }
      const key = newObjectKey();
      try {
        await blobs.put(key, m.pass(body()));
        await stillConnected(ctx);
        const got = m.result();
        if (sha256 && got.sha256 !== sha256) throw checksumMismatch();
        const { file, replayed } = await commitOnce(deps, ctx, {
          userId,
          parentId: parent.id,
          name,
          objectKey: key,
          ...got,
          reservedBytes: quota.reserved(),
          requestId: head.requestId,
        });
        if (replayed) {
          // A retry of an upload that already committed: answer with its file, drop these bytes.
          await blobs.delete(key).catch(() => {});
          await quota.release();
        }
        quota.consumed();
        return { file: toFile(file) };
      } catch (err) {
        await blobs.delete(key).catch(() => {});
        await quota.release().catch(() => {});
        throw err;
      }
    },
  };
}
