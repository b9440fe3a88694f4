// CopyFile: a file (its current version) or a folder with everything live below it, into a
// folder the caller may write to. Copies belong to the caller and count against their quota;
// the source is only read (its rows, versions, objects and tuples stay as they are).
import { randomUUID } from "node:crypto";
import type { filev1 } from "@filemesh/contracts";
import {
  appendEvents,
  type CallContext,
  failedPrecondition,
  fingerprintOf,
  inTransaction,
  oncePerRequestId,
  outsideCall,
} from "@filemesh/kit";
import { newObjectKey } from "@filemesh/kit/blob";
import { authorize, callerId, FILE_NOT_FOUND, requireOn, targetFolder } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { fileEvents } from "../domain/events.js";
import { cleanName } from "../domain/names.js";
import { lockFolder, uniqueName } from "../domain/tree.js";
import { toFile } from "../domain/views.js";
import { newFileTuples, type RelationUpdate } from "../peers/access.js";
import { getFile, insertFile, KIND, setAclRevision, subtree } from "../store/files.js";
import { adjust, claim } from "../store/usage.js";
import { insertVersion, versionsOf } from "../store/versions.js";
import { checkNotInside, homeImmutable } from "./update-handlers.js";

export function createCopyHandlers(deps: FileDeps) {
  const { pool, blobs, access, settings } = deps;
  return {
    async copyFile(req: filev1.CopyFileRequest, ctx: CallContext): Promise<filev1.CopyFileResponse> {
      const userId = callerId(ctx);
      const src = await authorize(deps, ctx, req.fileId, "read");
      if (src.home_of) throw homeImmutable();
      const name = req.name ? cleanName(req.name) : src.name;
      const dest = await targetFolder(deps, ctx, req.parentId || src.parent_id || "");
      await checkNotInside(pool, dest.id, src);
      // Files whose content is missing from the store are left out (they are not served either).
      const items = (await subtree(pool, src.id)).filter((i) => !i.missing_time);
      if (items.length > settings.maxCopyItems) {
        throw failedPrecondition(
          "COPY_TOO_LARGE",
          `at most ${settings.maxCopyItems} items can be copied at once`,
        );
      }
      const current = new Map(
        (
          await versionsOf(
            pool,
            items.map((i) => i.id),
          )
        )
          .filter((v) => items.some((i) => i.current_version_id === v.id))
          .map((v) => [v.file_id, v]),
      );
      const ids = new Map(items.map((i) => [i.id, randomUUID()]));
      const keys = new Map<string, string>();
      const dropCopies = () =>
        Promise.all([...keys.values()].map((k) => blobs.delete(k).catch(() => {}))).then(() => {});
      const bytes = [...current.values()].reduce((n, v) => n + BigInt(v.size_bytes), 0n);
      const files = items.filter((i) => i.kind === KIND.FILE).length;
      // The quota is reserved before a byte is copied in the store (a caller without room gets
      // QUOTA_EXCEEDED at once, the store untouched); the commit turns it into use.
      await claim(pool, userId, { reserve: bytes, defaultQuota: settings.defaultQuotaBytes });
      let reserved = bytes;
      const release = async () => {
        if (reserved > 0n) await adjust(pool, userId, { reserved: -reserved }).catch(() => {});
        reserved = 0n;
      };
      try {
        for (const v of current.values()) {
          const key = newObjectKey();
          await blobs.copy(v.object_key, key);
          keys.set(v.file_id, key);
        }
        // Copying the bytes took a while: the copy becomes visible only if the caller can still
        // read the source and write to the folder (a grant revoked meanwhile ends it here).
        await requireOn(deps, ctx, src, "read");
        await requireOn(deps, ctx, dest, "write");
        const { id, replayed } = await inTransaction(pool, (tx) =>
          oncePerRequestId(
            tx,
            {
              schema: "files",
              ctx,
              requestId: req.requestId,
              fingerprint: fingerprintOf(src.id, dest.id, name),
            },
            async () => {
              await lockFolder(tx, dest.id);
              await adjust(tx, userId, { reserved: -bytes, used: bytes, files });
              const tuples: RelationUpdate[] = [];
              const events = [];
              for (const item of items) {
                const newId = ids.get(item.id)!;
                const parentId = item.id === src.id ? dest.id : ids.get(item.parent_id ?? "")!;
                const v = current.get(item.id);
                const versionId = v ? randomUUID() : null;
                await uniqueName(() =>
                  insertFile(tx, {
                    id: newId,
                    ownerId: userId,
                    parentId,
                    kind: item.kind,
                    name: item.id === src.id ? name : item.name,
                    state: item.state,
                    sizeBytes: v ? item.size_bytes : "0",
                    sha256: item.sha256,
                    contentType: item.content_type,
                    currentVersionId: versionId,
                  }),
                );
                if (v && versionId) {
                  const key = keys.get(item.id)!;
                  await insertVersion(tx, {
                    ...v,
                    id: versionId,
                    file_id: newId,
                    owner_id: userId,
                    object_key: key,
                    creator: `user:${userId}`,
                  });
                  events.push(
                    fileEvents.uploaded(ctx, {
                      fileId: newId,
                      versionId,
                      ownerId: userId,
                      parentId,
                      name: item.name,
                      sizeBytes: v.size_bytes,
                      sha256: v.sha256,
                      objectKey: key,
                      newVersion: false,
                    }),
                  );
                }
                tuples.push(...newFileTuples(newId, parentId, userId));
              }
              await appendEvents(tx, "files", events);
              const revision = await access.write(tuples, ctx);
              await setAclRevision(tx, [...ids.values()], revision);
              return ids.get(src.id)!;
            },
          ),
        );
        if (replayed) await dropCopies();
        else reserved = 0n; // used by the commit
        await release(); // a replay used none of it
        const row = await getFile(pool, id);
        if (!row) throw FILE_NOT_FOUND();
        return { file: toFile(row) };
      } catch (err) {
        await outsideCall(async () => {
          await dropCopies();
          await release();
        });
        throw err;
      }
    },
  };
}
