// UploadFile: a small file as a raw body (POST /v1/files:upload), streamed into the blob store
// while it is counted, hashed (one SHA-256 pass) and its quota reserved; then the commit step.
// CreateUploadTicket: the same upload on the data plane — authorised here, the body then goes
// to /v1/data/{ticket} (data/server.ts), which runs the very same storeAndCommit.
import type { filev1 } from "@filemesh/contracts";
import { AppError, type CallContext, Code, invalidArgument, outsideCall, requestIdOf } from "@filemesh/kit";
import { newObjectKey } from "@filemesh/kit/blob";
import { DATA_PREFIX } from "../data/server.js";
import type { UploadClaims } from "../data/ticket.js";
import { callerId, targetFolder } from "../domain/access.js";
import { commitOnce } from "../domain/commit.js";
import { checksumMismatch, declaredSha256, meter } from "../domain/content.js";
import type { FileDeps } from "../domain/deps.js";
import { cleanName } from "../domain/names.js";
import { growingReservation } from "../domain/reservation.js";
import { toFile } from "../domain/views.js";
import type { FileRow } from "../store/files.js";

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

export interface RawUpload {
  userId: string;
  parentId: string;
  name: string;
  /** The folder as authorised when the upload began, if it was read then. */
  folder?: FileRow;
  /** With `folder`: whether a live file of this name was in it then (domain/commit.ts). */
  nameTaken?: boolean | undefined;
  /** Declared SHA-256 ("" = none). */
  sha256: string;
  requestId: string;
}

/**
 * Streams `body` into a new object while it is counted, hashed once and covered by a growing
 * quota reservation, then commits it (one transaction); on any failure the object and the
 * reservation go. The body ends when the client's stream ends: the caller checks that it was
 * not cut short (`stillThere`).
 */
export async function storeAndCommit(
  deps: FileDeps,
  ctx: CallContext,
  u: RawUpload,
  body: AsyncIterable<Uint8Array>,
  stillThere: () => Promise<void>,
) {
  const { pool, blobs, settings } = deps;
  const quota = growingReservation(pool, u.userId, {
    defaultQuota: settings.defaultQuotaBytes,
    renewMs: Math.max(1000, Math.floor(settings.reservationLeaseMs / 5)),
  });
  const m = meter({ limit: BigInt(settings.maxRawUploadBytes), onBytes: (n) => quota.cover(n) });
  const key = newObjectKey();
  try {
    await blobs.put(key, m.pass(body));
    await stillThere();
    const got = m.result();
    if (u.sha256 && got.sha256 !== u.sha256) throw checksumMismatch();
    const { file, replayed } = await commitOnce(deps, ctx, {
      userId: u.userId,
      parentId: u.parentId,
      folder: u.folder,
      nameTaken: u.nameTaken,
      name: u.name,
      objectKey: key,
      ...got,
      reservedBytes: quota.reserved(),
      reservationId: quota.held() ? quota.id : undefined,
      requestId: u.requestId,
    });
    if (replayed) {
      // A retry of an upload that already committed: answer with its file, drop these bytes.
      await blobs.delete(key).catch(() => {});
      await quota.release();
    }
    quota.consumed();
    return file;
  } catch (err) {
    // The call may be cancelled: the clean-up runs outside it, so admission does not refuse it.
    await outsideCall(async () => {
      await blobs.delete(key).catch(() => {});
      await quota.release().catch((e) => ctx.log.warn({ err: e }, "raw upload: reservation not released"));
    });
    throw err;
  }
}

export function createRawUploadHandlers(deps: FileDeps) {
  const { settings } = deps;
  return {
    async createUploadTicket(
      req: filev1.CreateUploadTicketRequest,
      ctx: CallContext,
    ): Promise<filev1.CreateUploadTicketResponse> {
      const userId = callerId(ctx);
      const name = cleanName(req.name);
      const sha256 = declaredSha256(req.sha256);
      requestIdOf(req.requestId);
      const parent = await targetFolder(deps, ctx, req.parentId);
      const p = ctx.principal!;
      const expire = Date.now() + settings.ticketExpiryMs;
      const claims: UploadClaims = {
        d: "w",
        l: settings.maxRawUploadBytes,
        e: expire,
        p: userId,
        sid: p.sessionId ?? "",
        a: p.admin === true,
        x: p.expiresAt ?? expire,
        f: parent.id,
        n: name,
        h: sha256,
        r: req.requestId,
      };
      const ticket = deps.tickets.mint(claims);
      return {
        url: DATA_PREFIX + ticket,
        ticket,
        expireTime: new Date(expire),
        maxBytes: String(settings.maxRawUploadBytes),
      };
    },

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
      const parent = await targetFolder(deps, ctx, head.parentId, name);
      async function* body() {
        if (head.body?.data.length) yield head.body.data;
        for (let next = await it.next(); !next.done; next = await it.next()) {
          if (next.value.body?.data.length) yield next.value.body.data;
        }
        await stillConnected(ctx);
      }
      const file = await storeAndCommit(
        deps,
        ctx,
        {
          userId,
          parentId: parent.id,
          folder: parent,
          nameTaken: parent.name_taken,
          name,
          sha256,
          requestId: head.requestId,
        },
        body(),
        () => stillConnected(ctx),
      );
      return { file: toFile(file) };
    },
  };
}
