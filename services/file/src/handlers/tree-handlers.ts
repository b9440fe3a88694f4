// The tree: home folders, CreateFolder, GetFile, ListFiles (paged, by name or time).
import { randomUUID } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import {
  type CallContext,
  fingerprintOf,
  inTransaction,
  invalidArgument,
  oncePerRequestId,
  pageSize,
} from "@filemesh/kit";
import {
  authorize,
  callerId,
  ensureHome,
  FILE_NOT_FOUND,
  NOT_A_FOLDER,
  targetFolder,
} from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { cleanName } from "../domain/names.js";
import { lockFolder, uniqueName } from "../domain/tree.js";
import { toFile } from "../domain/views.js";
import { newFileTuples } from "../peers/access.js";
import {
  cursorOf,
  getFile,
  insertFile,
  KIND,
  type ListOrder,
  listChildren,
  STATE,
  setAclRevision,
} from "../store/files.js";

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
        oncePerRequestId(
          tx,
          { schema: "files", ctx, requestId: req.requestId, fingerprint: fp },
          async () => {
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
            await setAclRevision(tx, [id], revision);
            return id;
          },
        ),
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
        throw NOT_A_FOLDER();
      }
      // Anyone who can read a folder can read everything in it (access is inherited).
      const binding = { list: "ListFiles", caller: userId, filter: [folder.id, order] };
      const after = pageTokens.read(req.pageToken, binding);
      const rows = await listChildren(pool, folder.id, order, after, size + 1);
      const more = rows.length > size;
      const page = more ? rows.slice(0, size) : rows;
      return {
        files: page.map(toFile),
        nextPageToken: more ? pageTokens.issue(binding, cursorOf(page[page.length - 1]!, order)) : "",
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
