// Shared pieces of upload sessions: the caller's own session, access re-checked on every step,
// part planning, the view.
import { filev1 } from "@filemesh/contracts";
import {
  AppError,
  type CallContext,
  failedPrecondition,
  inTransaction,
  notFound,
  type Reason,
} from "@filemesh/kit";
import { MAX_PART_BYTES, MAX_PARTS, type StoredPart } from "@filemesh/kit/blob";
import { status } from "@grpc/grpc-js";
import { getFile } from "../store/files.js";
import {
  expireSessions,
  getUpload,
  METHOD,
  staleCompletionReleased,
  transition,
  UPLOAD,
  type UploadRow,
} from "../store/uploads.js";
import { adjust } from "../store/usage.js";
import { AccessDenied, callerId, FILE_NOT_FOUND, requireOn } from "./access.js";
import type { FileDeps } from "./deps.js";

export const uploadNotFound = () => notFound("UPLOAD_NOT_FOUND", "no such upload session");

/** The caller's session (others' sessions do not exist for them); expired ones are expired. */
export async function ownUpload(deps: FileDeps, ctx: CallContext, id: string): Promise<UploadRow> {
  const userId = callerId(ctx);
  const row = await getUpload(deps.pool, id);
  if (!row || row.owner_id !== userId) throw uploadNotFound();
  if (
    (row.state === UPLOAD.ACTIVE || row.state === UPLOAD.COMPLETING) &&
    row.expire_time.getTime() < Date.now()
  ) {
    await releaseExpired(deps, userId);
    return { ...row, state: UPLOAD.EXPIRED };
  }
  // A completion whose process died (its lease ran out) gives the session back.
  if (
    row.state === UPLOAD.COMPLETING &&
    (await staleCompletionReleased(deps.pool, row.id, deps.settings.completionLeaseMs))
  ) {
    return { ...row, state: UPLOAD.ACTIVE };
  }
  return row;
}

/**
 * Expires overdue sessions — the user's, or (the janitor) anyone's before a time, at most a
 * batch — releasing their quota in the same transaction, then drops their parts (a failed
 * abort is left to the janitor's reconcile). Returns how many it expired.
 */
export async function releaseExpired(
  deps: FileDeps,
  which: string | { before: Date; limit: number },
): Promise<number> {
  const expired = await inTransaction(deps.pool, (tx) =>
    expireSessions(tx, typeof which === "string" ? { ownerId: which } : which),
  );
  for (const u of expired) {
    await deps.blobs.abortMultipart(u.object_key, u.multipart_id).catch(() => {});
    if (u.tail_key) await deps.blobs.delete(u.tail_key).catch(() => {}); // a tus upload's tail
  }
  return expired.length;
}

/** Moves the session from `from` to ABORTED and releases its reservation (false: not in `from`). */
export function markAborted(deps: FileDeps, u: UploadRow, from: number): Promise<boolean> {
  return inTransaction(deps.pool, async (tx) => {
    if (!(await transition(tx, u.id, from, UPLOAD.ABORTED))) return false;
    await adjust(tx, u.owner_id, { reserved: -BigInt(u.size_bytes) });
    return true;
  });
}

/**
 * Ends an ACTIVE session: ABORTED, its reservation released, its parts dropped. False when it
 * was no longer ACTIVE (completed, expired or cancelled meanwhile; nothing changed then).
 */
export async function abortSession(deps: FileDeps, u: UploadRow): Promise<boolean> {
  const aborted = await markAborted(deps, u, UPLOAD.ACTIVE);
  if (aborted) await deps.blobs.abortMultipart(u.object_key, u.multipart_id).catch(() => {});
  return aborted;
}

/**
 * The session's owner may still write to its folder — asked again on every part, URL refresh
 * and stream (the commit asks once more). A session opened while a grant lasted does not
 * outlive it: on a denial (NOT_FOUND / FILE_NOT_FOUND without read, PERMISSION_DENIED /
 * WRITE_DENIED with read only) the session is aborted and its reservation released.
 */
export async function stillAllowed(deps: FileDeps, ctx: CallContext, u: UploadRow): Promise<void> {
  const folder = await getFile(deps.pool, u.parent_id);
  if (!folder) throw FILE_NOT_FOUND();
  try {
    await requireOn(deps, ctx, folder, "write");
  } catch (err) {
    if (err instanceof AccessDenied) await abortSession(deps, u);
    throw err;
  }
}

/**
 * A completion is in flight (here, or in a process that died: its lease runs out): ABORTED
 * with RetryInfo, as a concurrency conflict a client retries — the retry finds the file, or
 * completes the session itself once the lease is gone.
 */
export const completing = () =>
  new AppError(status.ABORTED, "UPLOAD_COMPLETING", "the upload is being completed; retry", {
    retryAfterMs: 1000,
  });

/** Throws unless the session can still take bytes. */
export function mustBeActive(u: UploadRow): void {
  if (u.state === UPLOAD.ACTIVE) return;
  const why: Record<number, [Reason, string]> = {
    [UPLOAD.COMPLETED]: ["UPLOAD_COMPLETED", "the upload is already complete"],
    [UPLOAD.ABORTED]: ["UPLOAD_ABORTED", "the upload was cancelled or rejected"],
    [UPLOAD.EXPIRED]: ["UPLOAD_EXPIRED", "the upload session has expired"],
  };
  if (u.state === UPLOAD.COMPLETING) throw completing();
  const [reason, message] = why[u.state] ?? ["UPLOAD_NOT_ACTIVE", "the upload is not active"];
  throw failedPrecondition(reason, message);
}

/** Part size and count: the wanted size clamped to the store's limits and at most 10,000 parts. */
export function planParts(
  size: bigint,
  wanted: number,
  min: number,
): { partBytes: bigint; partCount: number } {
  let part = BigInt(Math.min(Math.max(wanted, min), MAX_PART_BYTES));
  while (size > part * BigInt(MAX_PARTS)) part *= 2n;
  const count = size === 0n ? 1 : Number((size + part - 1n) / part);
  return { partBytes: part, partCount: count };
}

/** The exact size part `n` must have. */
export function expectedPartSize(u: UploadRow, n: number): bigint {
  const part = BigInt(u.part_bytes);
  if (n < u.part_count) return part;
  return BigInt(u.size_bytes) - part * BigInt(u.part_count - 1);
}

export function toUpload(u: UploadRow, parts: StoredPart[], partUrls: filev1.PartUrl[] = []): filev1.Upload {
  const state = u.state === UPLOAD.COMPLETING ? UPLOAD.ACTIVE : u.state;
  const committed =
    u.method === METHOD.STREAM || u.method === METHOD.TUS
      ? u.committed_bytes
      : String(parts.reduce((n, p) => n + BigInt(p.sizeBytes), 0n));
  return filev1.Upload.fromPartial({
    id: u.id,
    parentId: u.parent_id,
    name: u.name,
    sizeBytes: u.size_bytes,
    sha256: u.sha256,
    method: (u.method === METHOD.TUS ? METHOD.STREAM : u.method) as filev1.UploadMethod,
    state: state as filev1.UploadState,
    committedSizeBytes: committed,
    partSizeBytes: u.part_bytes,
    partCount: u.part_count,
    partUrls,
    parts: parts.map((p) => ({ partNumber: p.partNumber, sizeBytes: String(p.sizeBytes), etag: p.etag })),
    createTime: u.create_time,
    expireTime: u.expire_time,
    fileId: u.file_id ?? "",
  });
}
