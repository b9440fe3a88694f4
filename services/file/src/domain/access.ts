// Access to one file for the calling user. Without read access a file is NOT_FOUND, exactly
// like a file that does not exist (a denial reveals nothing); with read but not the wanted
// permission it is PERMISSION_DENIED.
import { randomUUID } from "node:crypto";
import {
  AppError,
  type CallContext,
  Code,
  callerUserId,
  failedPrecondition,
  inTransaction,
  notFound,
  type Reason,
} from "@filemesh/kit";
import { maxRevision, newFileTuples, type Permission } from "../peers/access.js";
import {
  type FileRow,
  homeFolderOf,
  insertFile,
  KIND,
  lockHomeOf,
  STATE,
  setAclRevision,
} from "../store/files.js";
import { ensureRow } from "../store/usage.js";
import type { FileDeps } from "./deps.js";

export const FILE_NOT_FOUND = () => notFound("FILE_NOT_FOUND", "no such file");
/** A file where a folder is needed (a parent, a listing, a move target). */
export const NOT_A_FOLDER = () => failedPrecondition("NOT_A_FOLDER", "the parent is not a folder");

/** The calling user's id or UNAUTHENTICATED (the kit's callerUserId, under this service's name). */
export const callerId = callerUserId;

export interface AuthorizeOptions {
  /** Trashed files answer NOT_FOUND unless allowed here (restore, permanent delete, get). */
  trashed?: boolean;
  /** Files whose content is missing from the store answer NOT_FOUND unless allowed here (delete). */
  missing?: boolean;
}

/**
 * A refusal because of the caller's access (not the file's state): NOT_FOUND / FILE_NOT_FOUND
 * without read, PERMISSION_DENIED / `<PERMISSION>_DENIED` without the permission. Multi-step
 * operations end for good on it (an upload session is aborted, its reservation released).
 */
export class AccessDenied extends AppError {}

/**
 * Throws AccessDenied unless the caller holds `permission` on `row` (read is checked too, for
 * the answer's sake). `message` explains a denial of `permission` in the operation's terms.
 */
/** The reason a permission other than read is refused with (without read: FILE_NOT_FOUND). */
const DENIED: Record<Permission, Reason> = {
  read: "FILE_NOT_FOUND",
  write: "WRITE_DENIED",
  share: "SHARE_DENIED",
  delete: "DELETE_DENIED",
};

export async function requireOn(
  deps: FileDeps,
  ctx: CallContext,
  row: FileRow,
  permission: Permission,
  message = `you may not ${permission} this file`,
): Promise<void> {
  const wanted: Permission[] = permission === "read" ? ["read"] : ["read", permission];
  const allowed = await deps.access.check(ctx, row.id, wanted, row.acl_revision);
  if (!allowed[0]) throw new AccessDenied(Code.NOT_FOUND, "FILE_NOT_FOUND", "no such file");
  if (!allowed[wanted.length - 1]) {
    throw new AccessDenied(Code.PERMISSION_DENIED, DENIED[permission], message);
  }
}

/** The file if the caller holds `permission` on it (read is checked too, for the answer's sake). */
export async function authorize(
  deps: FileDeps,
  ctx: CallContext,
  fileId: string,
  permission: Permission,
  o: AuthorizeOptions = {},
): Promise<FileRow> {
  callerId(ctx);
  return authorizeRow(deps, ctx, await deps.reads.file(ctx, fileId), permission, o);
}

/** `authorize` for a row already read (or undefined: not found), e.g. with its version. */
export async function authorizeRow(
  deps: FileDeps,
  ctx: CallContext,
  row: FileRow | undefined,
  permission: Permission,
  o: AuthorizeOptions = {},
): Promise<FileRow> {
  callerId(ctx);
  if (!row || (row.trash_time && !o.trashed) || (row.missing_time && !o.missing)) throw FILE_NOT_FOUND();
  await requireOn(deps, ctx, row, permission);
  return row;
}

/** The caller's home folder, created (with its owner grant) on first use. */
export async function ensureHome(deps: FileDeps, ctx: CallContext, userId: string): Promise<FileRow> {
  const existing = await homeFolderOf(deps.pool, userId);
  if (existing) return existing;
  return inTransaction(deps.pool, async (tx) => {
    await lockHomeOf(tx, userId);
    const again = await homeFolderOf(tx, userId);
    if (again) return again;
    const id = randomUUID();
    const row = await insertFile(tx, {
      id,
      ownerId: userId,
      parentId: null,
      homeOf: userId,
      kind: KIND.FOLDER,
      name: "Home",
      state: STATE.READY,
    });
    const revision = await deps.access.write(newFileTuples(id, null, userId), ctx);
    await setAclRevision(tx, [id], revision);
    await ensureRow(tx, userId);
    return { ...row, acl_revision: revision };
  });
}

/** Each user's home folder id, once known: a home folder is never moved or renamed away. */
const homeIds = new WeakMap<FileDeps, Map<string, string>>();
const HOME_IDS_MAX = 100_000;

/**
 * The caller's home folder (made on first use), with `name_taken` when `name` is given. Once
 * its id is known, it is read by id with the other reads of the turn (kit batchedReads); a row
 * that is no longer this user's live home is forgotten and looked up again.
 */
async function homeFolder(
  deps: FileDeps,
  ctx: CallContext,
  userId: string,
  name?: string,
): Promise<FileRow & { name_taken?: boolean }> {
  let ids = homeIds.get(deps);
  if (!ids) {
    ids = new Map();
    homeIds.set(deps, ids);
  }
  const known = ids.get(userId);
  if (known) {
    const row =
      name === undefined
        ? await deps.reads.file(ctx, known)
        : await deps.reads.folderAndChild(ctx, known, name);
    if (row && row.home_of === userId && !row.trash_time) return row;
    ids.delete(userId);
  }
  const home = await ensureHome(deps, ctx, userId);
  if (ids.size >= HOME_IDS_MAX) ids.clear();
  ids.set(userId, home.id);
  return home;
}

/**
 * The folder new items go into: the caller's home when `parentId` is empty, else a live
 * folder the caller may write to. With `name`, the folder's row also says whether a live child
 * of it had that name when it was read (`name_taken`; for the home folder, once its id is known).
 */
export async function targetFolder(
  deps: FileDeps,
  ctx: CallContext,
  parentId: string,
  name?: string,
): Promise<FileRow & { name_taken?: boolean }> {
  const userId = callerId(ctx);
  if (!parentId) return homeFolder(deps, ctx, userId, name);
  const row =
    name === undefined
      ? await deps.reads.file(ctx, parentId)
      : await deps.reads.folderAndChild(ctx, parentId, name);
  const folder = await authorizeRow(deps, ctx, row, "write");
  if (folder.kind !== KIND.FOLDER) throw NOT_A_FOLDER();
  return folder;
}

/** The revision to pass on checks that follow a change to `row`. */
export const revisionAfter = (deps: FileDeps, row: FileRow): string =>
  maxRevision(row.acl_revision, deps.access.lastRevision());
