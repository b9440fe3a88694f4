// Completing a session (CompleteUpload, WriteUpload's finish_write): every part present with
// its exact size, the parts assembled, the stored object read back to verify size and SHA-256
// and to sniff its type, then the commit step (which checks the caller's access once more). A
// mismatch, or access lost, rejects the upload for good (nothing becomes visible, the
// reservation is released); missing parts leave it open to fix.
import type { CallContext } from "@filemesh/kit";
import { AppError, invalidArgument, outsideCall } from "@filemesh/kit";
import { BlobNotFoundError } from "@filemesh/kit/blob";
import type { FileRow } from "../store/files.js";
import { renewCompletion, transition, UPLOAD, type UploadRow } from "../store/uploads.js";
import { AccessDenied, authorize } from "./access.js";
import { commitContent } from "./commit.js";
import { checksumMismatch, meter, sizeMismatch } from "./content.js";
import type { FileDeps } from "./deps.js";
import { completing, expectedPartSize, markAborted, mustBeActive } from "./upload-sessions.js";

const incomplete = (message: string) =>
  invalidArgument("UPLOAD_INCOMPLETE", message, [{ field: "parts", description: message }]);

async function assemble(deps: FileDeps, u: UploadRow): Promise<void> {
  const { blobs } = deps;
  if (await blobs.stat(u.object_key)) return; // assembled by an earlier attempt
  let parts: Awaited<ReturnType<typeof blobs.listParts>>;
  try {
    parts = await blobs.listParts(u.object_key, u.multipart_id);
  } catch (err) {
    if (err instanceof BlobNotFoundError) throw incomplete("the upload has no parts");
    throw err;
  }
  const byNumber = new Map(parts.map((p) => [p.partNumber, p]));
  for (let n = 1; n <= u.part_count; n++) {
    const p = byNumber.get(n);
    if (!p) throw incomplete(`part ${n} is missing`);
    if (BigInt(p.sizeBytes) !== expectedPartSize(u, n)) {
      throw incomplete(`part ${n} has ${p.sizeBytes} bytes, expected ${expectedPartSize(u, n)}`);
    }
  }
  if (parts.some((p) => p.partNumber > u.part_count)) throw incomplete(`more than ${u.part_count} parts`);
  await blobs.completeMultipart(u.object_key, u.multipart_id, parts);
}

async function reject(deps: FileDeps, u: UploadRow): Promise<void> {
  await markAborted(deps, u, UPLOAD.COMPLETING);
  await deps.blobs.delete(u.object_key).catch(() => {});
  await deps.blobs.abortMultipart(u.object_key, u.multipart_id).catch(() => {});
}

/** What the service measured itself while every byte passed through it (skips the read-back). */
export interface Measured {
  sizeBytes: bigint;
  sha256: string;
  contentType: string;
}

export async function completeSession(
  deps: FileDeps,
  ctx: CallContext,
  u: UploadRow,
  measured?: Measured,
): Promise<FileRow> {
  if (u.state === UPLOAD.COMPLETED && u.file_id) {
    // A repeat shows the file only to who can still read it.
    return authorize(deps, ctx, u.file_id, "read", { trashed: true });
  }
  mustBeActive(u);
  if (!(await transition(deps.pool, u.id, UPLOAD.ACTIVE, UPLOAD.COMPLETING))) throw completing();
  const lease = setInterval(
    () => renewCompletion(deps.pool, u.id).catch(() => {}),
    deps.settings.completionLeaseMs / 3,
  ).unref();
  try {
    return await completeHeld(deps, ctx, u, measured);
  } finally {
    clearInterval(lease);
  }
}

async function completeHeld(
  deps: FileDeps,
  ctx: CallContext,
  u: UploadRow,
  measured: Measured | undefined,
): Promise<FileRow> {
  try {
    await assemble(deps, u);
  } catch (err) {
    await outsideCall(() => transition(deps.pool, u.id, UPLOAD.COMPLETING, UPLOAD.ACTIVE));
    throw err;
  }
  const size = BigInt(u.size_bytes);
  let got = measured;
  if (!got) {
    const m = meter({ limit: size });
    try {
      for await (const _ of m.pass(await deps.blobs.get(u.object_key))) {
        // read through: hash, size and type
      }
    } catch (err) {
      if (err instanceof AppError) {
        await reject(deps, u);
        throw sizeMismatch(u.size_bytes, size + 1n);
      }
      await transition(deps.pool, u.id, UPLOAD.COMPLETING, UPLOAD.ACTIVE);
      throw err;
    }
    got = m.result();
  }
  const problem =
    got.sizeBytes !== size
      ? sizeMismatch(u.size_bytes, got.sizeBytes)
      : u.sha256 && got.sha256 !== u.sha256
        ? checksumMismatch()
        : undefined;
  if (problem) {
    await reject(deps, u);
    throw problem;
  }
  try {
    return await commitContent(deps, ctx, {
      userId: u.owner_id,
      parentId: u.parent_id,
      name: u.name,
      objectKey: u.object_key,
      ...got,
      reservedBytes: size,
      uploadId: u.id,
    });
  } catch (err) {
    // The caller lost the right to write to the folder meanwhile: the session ends here
    // (aborted, reservation released, bytes dropped) and nothing becomes visible.
    if (err instanceof AccessDenied) {
      await reject(deps, u);
      throw err;
    }
    // The parent may be gone or the name taken by a folder: the session stays open (COMPLETING
    // → ACTIVE) and the assembled object is kept for the next attempt.
    await outsideCall(() => transition(deps.pool, u.id, UPLOAD.COMPLETING, UPLOAD.ACTIVE));
    throw err;
  }
}
