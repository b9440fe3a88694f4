// Deleting for good (DeleteFile with `permanent`, and the janitor's PurgeTrash): in one
// transaction the item and everything below it — rows, versions, share links, quota (each
// version's bytes back to its uploader), the file_deleted event and every tuple naming one of
// the deleted items (`forget`: owner, parent and link tuples, and every grant to users and
// groups, so nobody's ListAccessible names them any more) — then the bytes in the store: each
// version's object and its thumbnail.
import { appendEvents, type CallContext, inTransaction } from "@filemesh/kit";
import { thumbnailKey } from "@filemesh/kit/blob";
import { linkTuple, ownerTuple, parentTuple, type RelationUpdate } from "../peers/access.js";
import { deleteRows, type FileRow, getFile, KIND, subtree } from "../store/files.js";
import { linksOfFiles } from "../store/links.js";
import { adjust } from "../store/usage.js";
import { versionsOf } from "../store/versions.js";
import type { FileDeps } from "./deps.js";
import { fileEvents } from "./events.js";

/**
 * Deletes `id` and everything below it for good. False when it is gone already, or when
 * `still` (asked about the locked row) says it no longer qualifies — nothing is deleted then.
 */
export async function deleteForGood(
  deps: FileDeps,
  ctx: CallContext,
  id: string,
  still: (cur: FileRow) => boolean = () => true,
): Promise<boolean> {
  const keys = await inTransaction(deps.pool, async (tx) => {
    const cur = await getFile(tx, id, true);
    if (!cur || !still(cur)) return undefined;
    const items = await subtree(tx, cur.id, { all: true });
    const ids = items.map((i) => i.id);
    const versions = await versionsOf(tx, ids);
    const links = await linksOfFiles(tx, ids);
    await deleteRows(tx, ids);
    const freed = new Map<string, bigint>();
    for (const v of versions) freed.set(v.owner_id, (freed.get(v.owner_id) ?? 0n) + BigInt(v.size_bytes));
    const files = new Map<string, number>();
    for (const i of items) if (i.kind === KIND.FILE) files.set(i.owner_id, (files.get(i.owner_id) ?? 0) + 1);
    // Usage rows in a fixed order, so concurrent deletes never wait on each other in a cycle.
    for (const owner of [...new Set([...freed.keys(), ...files.keys()])].sort()) {
      await adjust(tx, owner, { used: -(freed.get(owner) ?? 0n), files: -(files.get(owner) ?? 0) });
    }
    const total = [...freed.values()].reduce((a, b) => a + b, 0n);
    await appendEvents(tx, "files", [fileEvents.deleted(ctx, cur.id, String(total))]);
    const tuples: RelationUpdate[] = items.flatMap((i) => [
      ownerTuple(i.id, i.owner_id, "delete"),
      ...(i.parent_id ? [parentTuple(i.id, i.parent_id, "delete")] : []),
    ]);
    for (const l of links) tuples.push(linkTuple(l.file_id, l.id, l.role, "delete"));
    // The explicit tuples too, so a permission replica that predates `forget` (a rolling
    // upgrade) still drops what it did before.
    await deps.access.write(
      tuples,
      ctx,
      ids.map((i) => `file:${i}`),
    );
    return versions.map((v) => v.object_key);
  });
  if (!keys) return false;
  // Bytes go after the rows; anything left behind is an orphan the janitor reconciles.
  for (const key of keys) {
    await deps.blobs.delete(key).catch(() => {});
    await deps.blobs.delete(thumbnailKey(key)).catch(() => {});
  }
  return true;
}
