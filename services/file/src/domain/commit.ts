// The one commit step every upload path ends in: the bytes are stored and verified; now, in
// one transaction, the file (or a new version of the file with that name), the quota (the
// reservation becomes use), the parent tuple and owner grant, and the events — after the
// caller's right to write to the folder has been checked once more.
import { randomUUID } from "node:crypto";
import {
  AppError,
  appendEvents,
  beforeCommit,
  type CallContext,
  Code,
  failedPrecondition,
  fingerprintOf,
  inTransaction,
  type OutboxEvent,
  oncePerRequestId,
  outsideCall,
  settleAll,
} from "@filemesh/kit";
import type { PoolClient } from "pg";
import { newFileTuples } from "../peers/access.js";
import { type FileRow, getFile, KIND, liveChildByName, STATE, updateFile } from "../store/files.js";
import { takeReservation } from "../store/reservations.js";
import { transition, UPLOAD } from "../store/uploads.js";
import { adjust, claim } from "../store/usage.js";
import { insertFileWithVersion, insertVersion } from "../store/versions.js";
import { FILE_NOT_FOUND, requireOn } from "./access.js";
import type { FileDeps } from "./deps.js";
import { fileEvents } from "./events.js";
import { lockFolder, nameConflict, uniqueName } from "./tree.js";

export interface Commit {
  userId: string;
  parentId: string;
  name: string;
  objectKey: string;
  sizeBytes: bigint;
  sha256: string;
  contentType: string;
  /** Bytes reserved for this content, turned into use (any difference is claimed or released). */
  reservedBytes: bigint;
  /**
   * The raw upload's reservation row (domain/reservation.ts): taken in the commit's
   * transaction, its bytes are the reservation (reservedBytes is then ignored; 0 when the
   * janitor released it meanwhile, and the whole size is claimed).
   */
  reservationId?: string;
  /**
   * The folder as read when the upload was authorised (UploadFile): not read again here. Its
   * `write` is checked again all the same, and the transaction locks it and finds it still live.
   */
  folder?: FileRow;
  /**
   * With `folder`: whether a live file of this name was in it when it was read. It saves the
   * commit's first look at the name (whether to write a new file's tuples before its
   * transaction); the transaction decides under the folder's lock, as without it.
   */
  nameTaken?: boolean | undefined;
  /** The session this commit completes (COMPLETING → COMPLETED). */
  uploadId?: string;
  /** A retried UploadFile with the same request_id commits once (AIP-155). */
  requestId?: string;
  /**
   * A new version of this file (RestoreFileVersion), whatever its name: write on the file
   * itself is checked instead of write on the folder, and a file moved or trashed meanwhile
   * commits nothing (CONFLICT_RETRY, FILE_NOT_FOUND).
   */
  fileId?: string;
}

export interface Committed {
  file: FileRow;
  /** True when a retry found the first attempt's file (this content was not used). */
  replayed: boolean;
}

export async function commitContent(deps: FileDeps, ctx: CallContext, c: Commit): Promise<FileRow> {
  return (await commitOnce(deps, ctx, c)).file;
}

/**
 * A new file's tuples (its parent and its owner), written before its row: the id they name and
 * the revision that reflects them.
 */
interface Tuples {
  fileId: string;
  revision: string;
}

/** The transaction found the name free after all: it needs tuples written first (and runs again). */
class TuplesNeeded extends Error {}

export async function commitOnce(deps: FileDeps, ctx: CallContext, c: Commit): Promise<Committed> {
  // Authorisation is decided again as the content is about to become visible, not only when
  // the upload began: a grant revoked while the bytes arrived refuses the commit (AccessDenied:
  // NOT_FOUND without read, PERMISSION_DENIED / WRITE_DENIED with read only). Write on the
  // folder covers a new version of a file in it (access is inherited). A folder gone or in the
  // trash is left to lockFolder below (FILE_NOT_FOUND, which does not end a session).
  // The folder and whether the name is taken in it: as read when the upload was authorised, or
  // now in one statement (shared with the other commits of this turn: kit batchedReads).
  const known = !c.fileId && c.folder?.id === c.parentId;
  const read = c.fileId || known ? undefined : await deps.reads.folderAndChild(ctx, c.parentId, c.name);
  const nameTaken = known ? c.nameTaken : read?.name_taken;
  const target = c.fileId ? await getFile(deps.pool, c.fileId) : known ? c.folder : read;
  if (target) await requireOn(deps, ctx, target, "write");
  else if (c.fileId) throw FILE_NOT_FOUND();
  const fp = fingerprintOf(c.parentId, c.fileId ?? c.name, c.sha256, String(c.sizeBytes));
  // A new file's tuples are written before its transaction, never inside it: the folder stays
  // locked and the connection held only for the commit's statements, not across a call to the
  // permission service, and the row never shows without its tuples. Whether the file is new
  // is read first without a lock; when the transaction finds otherwise (a file of that name
  // came or went meanwhile) it runs again, and tuples it did not use are forgotten.
  let tuples: Tuples | undefined;
  let needed = !c.fileId && !(nameTaken ?? (await liveChildByName(deps.pool, c.parentId, c.name)));
  try {
    for (let attempt = 1; ; attempt++) {
      if (needed && !tuples) {
        const fileId = randomUUID();
        tuples = {
          fileId,
          revision: await deps.access.writeShared(newFileTuples(fileId, c.parentId, c.userId), ctx),
        };
      }
      try {
        let row: FileRow | undefined;
        const done = await inTransaction(deps.pool, (tx) =>
          oncePerRequestId(
            tx,
            { schema: "files", ctx, requestId: c.requestId ?? "", fingerprint: fp },
            async () => {
              row = await commitIn(tx, deps, ctx, c, tuples);
              return row.id;
            },
          ),
        );
        if (tuples && done.id !== tuples.fileId) {
          await forget(deps, ctx, tuples);
          tuples = undefined; // forgotten once, not again below
        }
        // The row as committed, or (a retry's) the first attempt's file as it is now.
        const file = done.replayed ? await getFile(deps.pool, done.id) : row;
        if (!file) throw FILE_NOT_FOUND();
        return { file, replayed: done.replayed };
      } catch (err) {
        if (!(err instanceof TuplesNeeded) || attempt >= 3) throw err;
        needed = true;
      }
    }
  } catch (err) {
    if (tuples) await forget(deps, ctx, tuples);
    throw err;
  }
}

/**
 * Drops tuples written for a file that was not committed, unless its row is there after all (a
 * COMMIT whose answer was lost). Best effort: tuples naming no file grant nothing reachable.
 */
async function forget(deps: FileDeps, ctx: CallContext, tuples: Tuples): Promise<void> {
  await outsideCall(async () => {
    if (await getFile(deps.pool, tuples.fileId)) return;
    await deps.access.write([], ctx, [`file:${tuples.fileId}`]);
  }).catch((err: unknown) =>
    ctx.log.warn({ fileId: tuples.fileId, err: (err as Error).message }, "could not forget unused tuples"),
  );
}

/** The file a new version is for, locked: still live and still in the folder locked. */
async function sameFile(tx: PoolClient, fileId: string, parentId: string): Promise<FileRow> {
  const row = await getFile(tx, fileId, true);
  if (!row || row.trash_time || row.missing_time) throw FILE_NOT_FOUND();
  if (row.parent_id !== parentId) {
    throw new AppError(Code.ABORTED, "CONFLICT_RETRY", "the file was moved meanwhile; retry");
  }
  return row;
}

async function commitIn(
  tx: PoolClient,
  deps: FileDeps,
  ctx: CallContext,
  c: Commit,
  tuples: Tuples | undefined,
): Promise<FileRow> {
  const { settings } = deps;
  const state = settings.readyOnCommit ? STATE.READY : STATE.PROCESSING;
  // The folder's lock, then the file or name under it: sent together (with the BEGIN), run in
  // this order, the second read after the lock is held (db/pipeline.ts).
  const [, existing] = await settleAll([
    lockFolder(tx, c.parentId),
    c.fileId ? sameFile(tx, c.fileId, c.parentId) : liveChildByName(tx, c.parentId, c.name, true),
  ]);
  if (existing && existing.kind !== KIND.FILE) throw nameConflict();
  if (!existing && !tuples) throw new TuplesNeeded();
  const versionId = randomUUID();
  const fileId = existing?.id ?? tuples!.fileId;
  // The session's reservation is used once: a session expired meanwhile (its reservation
  // released by the expiry) commits nothing. The reservation becomes use; content larger than
  // it claims the rest against the quota. (Both statements sent together.)
  const [completed, reservedBytes] = await settleAll([
    c.uploadId
      ? transition(tx, c.uploadId, UPLOAD.COMPLETING, UPLOAD.COMPLETED, fileId)
      : Promise.resolve(true),
    c.reservationId ? takeReservation(tx, c.reservationId) : Promise.resolve(c.reservedBytes),
  ]);
  if (!completed)
    throw failedPrecondition("UPLOAD_EXPIRED", "the upload session expired before it completed");
  // A new file is the caller's, under the name asked; a new version keeps the file's owner and name.
  const events: OutboxEvent[] = [
    fileEvents.uploaded(ctx, {
      fileId,
      versionId,
      ownerId: existing?.owner_id ?? c.userId,
      parentId: c.parentId,
      name: existing?.name ?? c.name,
      sizeBytes: String(c.sizeBytes),
      sha256: c.sha256,
      objectKey: c.objectKey,
      newVersion: Boolean(existing),
    }),
  ];
  if (existing) events.push(fileEvents.versionAdded(ctx, fileId, versionId));
  const files = existing ? 0 : 1;
  // The quota, the rows and the events are sent together; a quota refused fails the
  // transaction all the same (the rows written after it roll back with it).
  const quota = async () => {
    if (reservedBytes === 0n && c.sizeBytes > 0n) {
      // Nothing reserved (a small raw upload, or a reservation the janitor released): the whole
      // size is claimed, in one conditional statement.
      await claim(tx, c.userId, { use: c.sizeBytes, files, defaultQuota: settings.defaultQuotaBytes });
    } else {
      const covered = [c.sizeBytes, reservedBytes].sort((x, y) => (x < y ? -1 : 1))[0]!;
      await adjust(tx, c.userId, { reserved: -reservedBytes, used: covered, files });
      if (c.sizeBytes > covered) {
        await claim(tx, c.userId, { use: c.sizeBytes - covered, defaultQuota: settings.defaultQuotaBytes });
      }
    }
  };
  const quotaDone = quota();
  const content = {
    size_bytes: String(c.sizeBytes),
    sha256: c.sha256,
    content_type: c.contentType,
    state,
    state_reason: "",
    current_version_id: versionId,
    missing_time: null,
  };
  const version = {
    id: versionId,
    file_id: fileId,
    owner_id: c.userId,
    object_key: c.objectKey,
    size_bytes: content.size_bytes,
    sha256: c.sha256,
    content_type: c.contentType,
    state,
    creator: `user:${c.userId}`,
  };
  let rowDone: Promise<FileRow>;
  if (existing) {
    rowDone = updateFile(tx, fileId, content);
    beforeCommit(tx, insertVersion(tx, version));
  } else {
    // A new file: its row and its first version in one statement.
    rowDone = uniqueName(() =>
      insertFileWithVersion(
        tx,
        {
          id: fileId,
          ownerId: c.userId,
          parentId: c.parentId,
          kind: KIND.FILE,
          name: c.name,
          state,
          sizeBytes: content.size_bytes,
          sha256: c.sha256,
          contentType: c.contentType,
          currentVersionId: versionId,
          aclRevision: tuples!.revision,
        },
        version,
      ),
    );
  }
  beforeCommit(tx, appendEvents(tx, "files", events));
  const [, row] = await settleAll([quotaDone, rowDone]);
  return row;
}
