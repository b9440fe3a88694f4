// Trash: DeleteFile moves a file or a folder with everything live below it to the trash (or
// deletes it for good with `permanent`), RestoreFile brings a trashed item back with what was
// trashed with it, ListTrash lists the items the caller trashed or owns.
import type { filev1 } from "@filemesh/contracts";
import { appendEvents, type CallContext, failedPrecondition, inTransaction, pageSize } from "@filemesh/kit";
import { authorize, callerId, FILE_NOT_FOUND } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { fileEvents } from "../domain/events.js";
import { deleteForGood } from "../domain/permanent-delete.js";
import { uniqueName } from "../domain/tree.js";
import { toFile } from "../domain/views.js";
import { getFile, subtree, trashRoots, trashRows, untrashRoot } from "../store/files.js";
import { etagMismatch, homeImmutable } from "./update-handlers.js";

export function createTrashHandlers(deps: FileDeps) {
  const { pool, access, pageTokens } = deps;

  return {
    async deleteFile(req: filev1.DeleteFileRequest, ctx: CallContext): Promise<filev1.DeleteFileResponse> {
      const userId = callerId(ctx);
      // A file whose content went missing can still be deleted (that frees its quota).
      const row = await authorize(deps, ctx, req.fileId, "delete", { trashed: req.permanent, missing: true });
      if (row.home_of) throw homeImmutable();
      if (req.etag && req.etag !== row.etag) throw etagMismatch();
      if (req.permanent) {
        if (!(await deleteForGood(deps, ctx, row.id))) throw FILE_NOT_FOUND();
        return { file: undefined };
      }
      const out = await inTransaction(pool, async (tx) => {
        const cur = await getFile(tx, row.id, true);
        if (!cur) throw FILE_NOT_FOUND();
        if (req.etag && req.etag !== cur.etag) throw etagMismatch();
        if (cur.trash_time) return cur;
        const ids = (await subtree(tx, cur.id)).map((i) => i.id);
        await trashRows(tx, ids, cur.id, userId);
        await appendEvents(tx, "files", [fileEvents.trashed(ctx, cur.id)]);
        return (await getFile(tx, cur.id))!;
      });
      return { file: toFile(out) };
    },

    async restoreFile(req: filev1.RestoreFileRequest, ctx: CallContext): Promise<filev1.RestoreFileResponse> {
      const row = await authorize(deps, ctx, req.fileId, "delete", { trashed: true });
      if (!row.trash_time) return { file: toFile(row) };
      if (row.trash_root_id !== row.id) {
        throw failedPrecondition("TRASHED_WITH_FOLDER", "restore the folder it was trashed with");
      }
      const out = await inTransaction(pool, async (tx) => {
        const parent = row.parent_id ? await getFile(tx, row.parent_id, true) : undefined;
        if (!parent || parent.trash_time) {
          throw failedPrecondition("PARENT_IN_TRASH", "the folder it was in is in the trash or gone");
        }
        await uniqueName(() => untrashRoot(tx, row.id));
        await appendEvents(tx, "files", [fileEvents.restored(ctx, row.id)]);
        return (await getFile(tx, row.id))!;
      });
      return { file: toFile(out) };
    },

    async listTrash(req: filev1.ListTrashRequest, ctx: CallContext): Promise<filev1.ListTrashResponse> {
      const userId = callerId(ctx);
      const size = pageSize(req.pageSize);
      const binding = { list: "ListTrash", caller: userId };
      const after = pageTokens.read(req.pageToken, binding);
      const rows = await trashRoots(pool, userId, after, size + 1);
      const more = rows.length > size;
      const page = more ? rows.slice(0, size) : rows;
      const last = page[page.length - 1];
      // What the caller trashed but does not own is shown only while they can still read it.
      const others = page.filter((r) => r.owner_id !== userId);
      const allowed = await access.checkMany(
        ctx,
        others.map((r) => r.id),
        "read",
      );
      const readable = new Set(others.filter((_, i) => allowed[i]).map((r) => r.id));
      return {
        files: page.filter((r) => r.owner_id === userId || readable.has(r.id)).map(toFile),
        nextPageToken:
          more && last ? pageTokens.issue(binding, [last.trash_time!.toISOString(), last.id]) : "",
      };
    },
  };
}
