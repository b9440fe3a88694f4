// Upload sessions: CreateUpload (reserves the declared size), GetUpload (committed size to
// resume from, parts), RefreshUploadUrls (s3), CompleteUpload, CancelUpload. Access to the
// folder is decided when the session opens and again on every refresh and at the commit.
// A user holds at most UPLOAD_SESSIONS_PER_USER open sessions (each is a row and a multipart
// upload in the store until it ends): one more is TOO_MANY_UPLOADS, counted under a per-user
// lock in the creating transaction, so parallel creates cannot pass the cap together.
import { randomUUID } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import {
  AppError,
  type CallContext,
  Code,
  failedPrecondition,
  fingerprintOf,
  inTransaction,
  invalidArgument,
  oncePerRequestId,
} from "@filemesh/kit";
import { newObjectKey, type StoredPart } from "@filemesh/kit/blob";
import { callerId, targetFolder } from "../domain/access.js";
import { completeSession } from "../domain/complete-upload.js";
import { declaredSha256, tooLarge } from "../domain/content.js";
import type { FileDeps } from "../domain/deps.js";
import { cleanName } from "../domain/names.js";
import {
  abortSession,
  expectedPartSize,
  mustBeActive,
  ownUpload,
  planParts,
  releaseExpired,
  stillAllowed,
  toUpload,
} from "../domain/upload-sessions.js";
import { toFile } from "../domain/views.js";
import {
  insertUpload,
  METHOD,
  openSessionsLocked,
  partsOf,
  UPLOAD,
  type UploadRow,
} from "../store/uploads.js";
import { claim } from "../store/usage.js";

export const presignUnsupported = () =>
  failedPrecondition("PRESIGN_UNSUPPORTED", "this deployment's blob store cannot presign URLs (fs driver)");

const tooManyUploads = (userId: string, max: number) =>
  new AppError(
    Code.RESOURCE_EXHAUSTED,
    "TOO_MANY_UPLOADS",
    `at most ${max} upload sessions may be open at once; complete or cancel one first`,
    { quotaViolations: [{ subject: `user:${userId}`, description: `${max} open upload sessions` }] },
  );

export function createSessionHandlers(deps: FileDeps) {
  const { pool, blobs, settings } = deps;
  const expiresInSeconds = Math.max(1, Math.floor(settings.presignExpiryMs / 1000));

  async function partsNow(u: UploadRow): Promise<StoredPart[]> {
    if (u.method === METHOD.STREAM || u.state !== UPLOAD.ACTIVE) {
      return (await partsOf(pool, u.id)).map((p) => ({
        partNumber: p.part_number,
        sizeBytes: Number(p.size_bytes),
        etag: p.etag,
      }));
    }
    return blobs.listParts(u.object_key, u.multipart_id).catch(() => []);
  }

  async function urls(u: UploadRow, numbers: number[]): Promise<filev1.PartUrl[]> {
    if (!blobs.presigns || u.method !== METHOD.PARTS) return [];
    const expireTime = new Date(Date.now() + expiresInSeconds * 1000);
    return Promise.all(
      numbers.map(async (partNumber) => ({
        partNumber,
        url: await blobs.presignPart(u.object_key, u.multipart_id, partNumber, {
          expiresInSeconds,
          // Signed into the URL: the store takes no other length (quota holds).
          contentLength: Number(expectedPartSize(u, partNumber)),
        }),
        expireTime,
      })),
    );
  }

  return {
    async createUpload(
      req: filev1.CreateUploadRequest,
      ctx: CallContext,
    ): Promise<filev1.CreateUploadResponse> {
      const userId = callerId(ctx);
      const name = cleanName(req.name);
      const size = BigInt(req.sizeBytes || "0");
      if (size < 0n) {
        throw invalidArgument("INVALID_SIZE", "size_bytes must not be negative", [
          { field: "size_bytes", description: "negative" },
        ]);
      }
      if (size > BigInt(settings.maxUploadBytes)) throw tooLarge(settings.maxUploadBytes);
      const sha256 = declaredSha256(req.sha256);
      const method = req.method === filev1.UploadMethod.UPLOAD_METHOD_STREAM ? METHOD.STREAM : METHOD.PARTS;
      const parent = await targetFolder(deps, ctx, req.parentId);
      const plan =
        method === METHOD.STREAM
          ? planParts(size, settings.partBytes, blobs.minPartBytes)
          : planParts(size, Number(req.partSizeBytes || "0") || settings.partBytes, blobs.minPartBytes);
      await releaseExpired(deps, userId);
      const key = newObjectKey();
      const multipartId = await blobs.createMultipart(key);
      const fp = fingerprintOf(parent.id, name, String(size), sha256, method, String(plan.partBytes));
      let replayed = false;
      let id: string;
      try {
        ({ id, replayed } = await inTransaction(pool, (tx) =>
          oncePerRequestId(
            tx,
            { schema: "files", ctx, requestId: req.requestId, fingerprint: fp },
            async () => {
              // Only a new session counts (a replay above answers as before, at the cap too).
              const max = settings.uploadSessionsPerUser;
              if ((await openSessionsLocked(tx, userId, max)) >= max) throw tooManyUploads(userId, max);
              await claim(tx, userId, { reserve: size, defaultQuota: settings.defaultQuotaBytes });
              const row = await insertUpload(tx, {
                id: randomUUID(),
                owner_id: userId,
                parent_id: parent.id,
                name,
                size_bytes: String(size),
                sha256,
                method,
                part_bytes: String(plan.partBytes),
                part_count: plan.partCount,
                object_key: key,
                multipart_id: multipartId,
                expire_time: new Date(Date.now() + settings.uploadExpiryMs),
              });
              return row.id;
            },
          ),
        ));
      } catch (err) {
        await blobs.abortMultipart(key, multipartId).catch(() => {});
        throw err;
      }
      if (replayed) await blobs.abortMultipart(key, multipartId).catch(() => {});
      const u = await ownUpload(deps, ctx, id);
      const all = Array.from({ length: u.part_count }, (_, i) => i + 1);
      return { upload: toUpload(u, [], await urls(u, all)) };
    },

    async getUpload(req: filev1.GetUploadRequest, ctx: CallContext): Promise<filev1.GetUploadResponse> {
      const u = await ownUpload(deps, ctx, req.uploadId);
      return { upload: toUpload(u, await partsNow(u)) };
    },

    async refreshUploadUrls(
      req: filev1.RefreshUploadUrlsRequest,
      ctx: CallContext,
    ): Promise<filev1.RefreshUploadUrlsResponse> {
      const u = await ownUpload(deps, ctx, req.uploadId);
      mustBeActive(u);
      await stillAllowed(deps, ctx, u);
      if (!blobs.presigns) throw presignUnsupported();
      if (u.method !== METHOD.PARTS)
        throw failedPrecondition("NOT_A_PARTS_UPLOAD", "this session takes a byte stream");
      for (const n of req.partNumbers) {
        if (n < 1 || n > u.part_count) {
          throw invalidArgument("INVALID_PART_NUMBER", `part numbers go from 1 to ${u.part_count}`, [
            { field: "part_numbers", description: `${n} is out of range` },
          ]);
        }
      }
      const done = new Set((await partsNow(u)).map((p) => p.partNumber));
      const wanted = req.partNumbers.length
        ? [...new Set(req.partNumbers)]
        : Array.from({ length: u.part_count }, (_, i) => i + 1).filter((n) => !done.has(n));
      return { partUrls: await urls(u, wanted) };
    },

    async completeUpload(
      req: filev1.CompleteUploadRequest,
      ctx: CallContext,
    ): Promise<filev1.CompleteUploadResponse> {
      const u = await ownUpload(deps, ctx, req.uploadId);
      return { file: toFile(await completeSession(deps, ctx, u)) };
    },

    async cancelUpload(
      req: filev1.CancelUploadRequest,
      ctx: CallContext,
    ): Promise<filev1.CancelUploadResponse> {
      const u = await ownUpload(deps, ctx, req.uploadId);
      if (u.state === UPLOAD.ABORTED || u.state === UPLOAD.EXPIRED) return {};
      if (u.state !== UPLOAD.ACTIVE) mustBeActive(u);
      if (!(await abortSession(deps, u))) mustBeActive({ ...u, state: UPLOAD.COMPLETING });
      return {};
    },
  };
}
