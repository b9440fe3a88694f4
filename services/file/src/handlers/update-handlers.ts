// UpdateFile: rename and/or move (update_mask: name, parent_id), conditional on the etag.
// Renaming needs `write`; moving needs `delete` on the item and `write` on the new folder.
import type { filev1 } from "@filemesh/contracts";
import {
  appendEvents,
  type CallContext,
  failedPrecondition,
  inTransaction,
  invalidArgument,
  type OutboxEvent,
} from "@filemesh/kit";
import { authorize, FILE_NOT_FOUND, NOT_A_FOLDER, requireOn } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { fileEvents } from "../domain/events.js";
import { cleanName } from "../domain/names.js";
import { lockFolder, uniqueName } from "../domain/tree.js";
import { toFile } from "../domain/views.js";
import { parentTuple } from "../peers/access.js";
import { ancestry, type FileRow, getFile, KIND, setAclRevision, updateFile } from "../store/files.js";

const MASKABLE: Record<string, "name" | "parent_id"> = {
  name: "name",
  parent_id: "parent_id",
  parentId: "parent_id",
};

export const etagMismatch = () =>
  failedPrecondition("ETAG_MISMATCH", "the file has changed since you read it (etag mismatch)");

export const homeImmutable = () =>
  failedPrecondition("HOME_FOLDER", "a home folder cannot be renamed, moved, copied or deleted");

function fieldsOf(req: filev1.UpdateFileRequest): Set<"name" | "parent_id"> {
  const paths = req.updateMask ?? [];
  const out = new Set<"name" | "parent_id">();
  if (paths.length === 0) {
    if (req.file?.name) out.add("name");
    if (req.file?.parentId) out.add("parent_id");
  }
  for (const p of paths) {
    const f = MASKABLE[p];
    if (!f) {
      throw invalidArgument("INVALID_UPDATE_MASK", `${p} cannot be updated`, [
        { field: "update_mask", description: `${p} is not one of name, parent_id` },
      ]);
    }
    out.add(f);
  }
  if (out.size === 0) {
    throw invalidArgument("EMPTY_UPDATE", "nothing to update", [
      { field: "update_mask", description: "name this or set file.name / file.parent_id" },
    ]);
  }
  return out;
}

/** Refuses moving a folder into itself or below itself. */
export async function checkNotInside(tx: Parameters<typeof ancestry>[0], target: string, item: FileRow) {
  if (item.kind !== KIND.FOLDER) return;
  if ((await ancestry(tx, target)).includes(item.id)) {
    throw invalidArgument("MOVE_INTO_ITSELF", "a folder cannot go into itself or one of its descendants", [
      { field: "parent_id", description: "is the folder or below it" },
    ]);
  }
}

export function createUpdateHandlers(deps: FileDeps) {
  const { pool, access } = deps;
  return {
    async updateFile(req: filev1.UpdateFileRequest, ctx: CallContext): Promise<filev1.UpdateFileResponse> {
      const fields = fieldsOf(req);
      const name = fields.has("name") ? cleanName(req.file?.name ?? "", "file.name") : undefined;
      const row = await authorize(deps, ctx, req.fileId, "write");
      if (row.home_of) throw homeImmutable();
      const etag = req.file?.etag ?? "";
      if (etag && etag !== row.etag) throw etagMismatch();
      let newParent: string | undefined;
      if (fields.has("parent_id")) {
        const wanted = req.file?.parentId ?? "";
        if (!wanted) {
          throw invalidArgument("PARENT_REQUIRED", "parent_id is required to move", [
            { field: "file.parent_id", description: "required" },
          ]);
        }
        if (wanted !== row.parent_id) {
          // Moving takes the item (a folder: with everything below it) out of its folder, so it
          // needs what deleting it needs — `delete` on the item (owners, also through an
          // ancestor) — besides `write` on the new folder. Write access alone (editors) would
          // let them carry an owner's file off to a tree of their own and delete it there.
          await requireOn(
            deps,
            ctx,
            row,
            "delete",
            "moving an item out of its folder needs the right to delete it (owners)",
          );
          const target = await authorize(deps, ctx, wanted, "write");
          if (target.kind !== KIND.FOLDER) throw NOT_A_FOLDER();
          newParent = target.id;
        }
      }
      const out = await inTransaction(pool, async (tx) => {
        const cur = await getFile(tx, row.id, true);
        if (!cur || cur.trash_time) throw FILE_NOT_FOUND();
        if (etag && etag !== cur.etag) throw etagMismatch();
        const set: Partial<Record<keyof FileRow, unknown>> = {};
        const events: OutboxEvent[] = [];
        if (name !== undefined && name !== cur.name) {
          set.name = name;
          events.push(fileEvents.updated(ctx, cur.id, ["name"]));
        }
        if (newParent && newParent !== cur.parent_id) {
          await lockFolder(tx, newParent);
          await checkNotInside(tx, newParent, cur);
          set.parent_id = newParent;
          events.push(fileEvents.moved(ctx, cur.id, cur.parent_id ?? "", newParent));
        }
        if (events.length === 0) return cur;
        const updated = await uniqueName(() => updateFile(tx, cur.id, set));
        // The tuple last: nothing after it but the events and COMMIT can fail.
        if (set.parent_id) {
          updated.acl_revision = await access.write([parentTuple(cur.id, newParent!, "touch")], ctx);
          await setAclRevision(tx, [cur.id], updated.acl_revision);
        }
        await appendEvents(tx, "files", events);
        return updated;
      });
      return { file: toFile(out) };
    },
  };
}
