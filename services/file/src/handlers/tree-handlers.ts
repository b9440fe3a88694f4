// The tree: home folders, CreateFolder, GetFile, ListFiles (paged, by name or time).
import { randomUUID } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import {
  alreadyExists,
  type CallContext,
  failedPrecondition,
  inTransaction,
  invalidArgument,
  isUniqueViolation,
} from "@filemesh/kit";
import { cleanName } from "../domain/names.js";
import { pageSize } from "../domain/page-token.js";
import { newFileTuples } from "../peers/access.js";
import {
  cursorOf,
  type FileRow,
  getFile,
  insertFile,
  KIND,
  type ListOrder,
  listChildren,
  STATE,
} from "../store/files.js";
import { authorize, callerId, ensureHome, FILE_NOT_FOUND, targetFolder } from "./authorize.js";
import type { FileDeps } from "./deps.js";
import { fingerprintOf, oncePerRequest } from "./idempotency.js";
import { toFile } from "./views.js";

export const nameConflict = () =>
  alreadyExists("NAME_CONFLICT", "an item with this name already exists in the folder");

/** Runs `fn`, turning a duplicate live name in one folder into ALREADY_EXISTS NAME_CONFLICT. */
export async function uniqueName<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err, "files_live_name_key")) throw nameConflict();
    throw err;
  }
}

/** Locks a folder for adding children; it must still be live. */
export async function lockFolder(tx: Parameters<typeof getFile>[0], id: string): Promise<FileRow> {
  const folder = await getFile(tx, id, true);
  if (!folder || folder.trash_time) throw FILE_NOT_FOUND();
  if (folder.kind !== KIND.FOLDER) throw failedPrecondition("NOT_A_FOLDER", "the parent is not a folder");
  return folder;
}

export function createTreeHandlers(deps: FileDeps) {
  const { pool, access, pageTokens } = deps;
  return {
    async createFolder(
      req: filev1.CreateFolderRequest,
      ctx: CallContext,
    ): Promise<filev1.CreateFolderResponse> {
      const userId = callerId(ctx);
      const name = cleanName(req.name);
      const parent = await targetFolder(deps, ctx, req.parentId);
      const fp = fingerprintOf(parent.id, name);
      const { id } = await inTransaction(pool, (tx) =>
        oncePerRequest(tx, ctx, req.requestId, fp, async () => {
          await lockFolder(tx, parent.id);
          const id = randomUUID();
          await uniqueName(() =>
            insertFile(tx, {
              id,
              ownerId: userId,
              parentId: parent.id,
              kind: KIND.FOLDER,
              name,
              state: STATE.READY,
            }),
          );
          const revision = await access.write(newFileTuples(id, parent.id, userId), ctx);
          await tx.query("UPDATE files.files SET acl_revision = $2 WHERE id = $1", [id, revision]);
          return id;
        }),
      );
      const row = await getFile(pool, id);
      if (!row) throw FILE_NOT_FOUND();
      return { file: toFile(row) };
    },

    async getFile(req: filev1.GetFileRequest, ctx: CallContext): Promise<filev1.GetFileResponse> {
      const row = await authorize(deps, ctx, req.fileId, "read", { trashed: true });
      return { file: toFile(row) };
    },

    async listFiles(req: filev1.ListFilesRequest, ctx: CallContext): Promise<filev1.ListFilesResponse> {
      const userId = callerId(ctx);
      const size = pageSize(req.pageSize);
      const order: ListOrder = req.orderBy === filev1.FileOrder.FILE_ORDER_UPDATE_TIME ? "time" : "name";
      const folder = req.parentId
        ? await authorize(deps, ctx, req.parentId, "read")
        : await ensureHome(deps, ctx, userId);
      if (folder.kind !== KIND.FOLDER) {
        throw invalidArgument("NOT_A_FOLDER", "parent_id must name a folder", [
          { field: "parent_id", description: "not a folder" },
        ]);
      }
      // Anyone who can read a folder can read everything in it (access is inherited).
      const scope = `children:${folder.id}:${order}`;
      const after = pageTokens.read(req.pageToken, scope);
      const rows = await listChildren(pool, folder.id, order, after, size + 1);
      const more = rows.length > size;
      const page = more ? rows.slice(0, size) : rows;
      return {
        files: page.map(toFile),
        nextPageToken: more ? pageTokens.issue(scope, cursorOf(page[page.length - 1]!, order)) : "",
      };
    },

    async ensureHomeFolder(
      req: filev1.EnsureHomeFolderRequest,
      ctx: CallContext,
    ): Promise<filev1.EnsureHomeFolderResponse> {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(req.userId)) {
        throw invalidArgument("INVALID_USER_ID", "user_id is malformed", [
          { field: "user_id", description: "malformed" },
        ]);
      }
      return { folder: toFile(await ensureHome(deps, ctx, req.userId)) };
    },
  };
}
