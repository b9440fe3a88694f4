// The janitor's operations on the real file service, called as the processor, on the fs driver
// and on S3 (a MinIO the test starts): overdue sessions expired once (quota released, parts
// aborted), old trash purged like a permanent delete, the store reconciled both ways (orphans
// removed, missing content marked and served NOT_FOUND) — never anything newer than the cut-off.
// The file service runs on a database of its own: these operations act on every row there.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { eventsv1, filev1 } from "@filemesh/contracts";
import {
  BlobNotFoundError,
  type BlobStore,
  createFsStore,
  newObjectKey,
  thumbnailKey,
} from "@filemesh/kit/blob";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { beforeAll, describe, expect, it } from "vitest";
import { authOutcome } from "../../../test/harness/mesh.js";
import { REFERENCED_KEYS, referencedKeys } from "../src/store/janitor.js";
import { collect, metadataOf, rpc, send, useFileMesh } from "./start-file.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const all = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe.each(["fs", "s3"] as const)("janitor operations (%s)", (driver) => {
  const bucket = uniqueId("jan").toLowerCase();
  const fm = useFileMesh({ driver, ownDatabase: true, env: { S3_BUCKET: bucket } });
  let blobs: BlobStore;
  let svc: Record<string, string>;

  beforeAll(() => {
    blobs = fm.minio ? fm.minio.s3Store(bucket) : createFsStore(fm.blobDir);
    svc = fm.mesh.serviceHeaders("processor");
  });

  const expire = (req: Partial<filev1.ExpireUploadsRequest>) =>
    rpc(fm.f, fm.f.expireUploads, filev1.ExpireUploadsRequest.fromPartial(req), svc);
  const purge = (req: Partial<filev1.PurgeTrashRequest>) =>
    rpc(fm.f, fm.f.purgeTrash, filev1.PurgeTrashRequest.fromPartial(req), svc);
  const reconcile = (req: Partial<filev1.ReconcileObjectsRequest>) =>
    rpc(fm.f, fm.f.reconcileObjects, filev1.ReconcileObjectsRequest.fromPartial(req), svc);

  /** The whole walk, `maxItems` at a time; the totals and the number of calls. */
  async function walk(cutoffTime: Date, maxItems: number) {
    const total = { removedObjects: 0, abortedUploads: 0, markedMissingRows: 0, calls: 0 };
    let pageToken = "";
    do {
      const r = await reconcile({ cutoffTime, maxItems, pageToken });
      total.removedObjects += r.removedObjects;
      total.abortedUploads += r.abortedUploads;
      total.markedMissingRows += r.markedMissingRows;
      total.calls++;
      pageToken = r.nextPageToken;
    } while (pageToken);
    return total;
  }

  const session = (headers: Record<string, string>, sizeBytes: number) =>
    rpc(
      fm.f,
      fm.f.createUpload,
      filev1.CreateUploadRequest.fromPartial({ name: `${uniqueId("s")}.bin`, sizeBytes: String(sizeBytes) }),
      headers,
    ).then((r) => r.upload!);
  const usage = async (userId: string) =>
    (
      await fm.db.query(
        "SELECT used_bytes::int AS used, reserved_bytes::int AS reserved, file_count::int AS files FROM files.usage WHERE user_id = $1",
        [userId],
      )
    ).rows[0];
  const uploadRow = async (id: string) =>
    (await fm.db.query("SELECT state, object_key, multipart_id FROM files.uploads WHERE id = $1", [id]))
      .rows[0];
  const objectKeyOf = async (versionId: string): Promise<string> =>
    (await fm.db.query("SELECT object_key FROM files.versions WHERE id = $1", [versionId])).rows[0]
      .object_key;
  const overdue = (ids: string[], by = "1 hour") =>
    fm.db.query(
      `UPDATE files.uploads SET expire_time = now() - interval '${by}' WHERE id = ANY($1::uuid[])`,
      [ids],
    );
  const multipartIds = async () => (await all(blobs.listMultipartUploads())).map((u) => u.uploadId);

  it("are internal to the processor and check their arguments", async () => {
    const user = await fm.mesh.newUser();
    const f = fm.f;
    const req = { cutoffTime: new Date(), maxItems: 0, pageToken: "" };
    expect(await authOutcome(rpc(f, f.purgeTrash, req, user.headers))).toBe("SERVICE_IDENTITY_REQUIRED");
    expect(await authOutcome(rpc(f, f.expireUploads, req, fm.mesh.serviceHeaders("user")))).toBe(
      "CALLER_NOT_ALLOWED",
    );
    expect(await authOutcome(rpc(f, f.reconcileObjects, req, fm.mesh.serviceHeaders("user")))).toBe(
      "CALLER_NOT_ALLOWED",
    );
    expect(await failure(purge({}))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "CUTOFF_REQUIRED",
    });
    expect(await failure(reconcile({}))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "CUTOFF_REQUIRED",
    });
    expect(await failure(expire({ maxItems: -1 }))).toMatchObject({ reason: "INVALID_MAX_ITEMS" });
    expect(await failure(reconcile({ cutoffTime: new Date(), pageToken: "forged" }))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_PAGE_TOKEN",
    });
  });

  it("expires overdue upload sessions once: quota released, parts aborted, newer sessions untouched", async () => {
    const u = await fm.mesh.newUser();
    const v = await fm.mesh.newUser();
    const a = await session(u.headers, 1000);
    const b = await session(u.headers, 2000);
    const c = await session(u.headers, 4000);
    const d = await session(v.headers, 500);
    await send(
      fm.f,
      fm.f.uploadPart,
      [
        filev1.UploadPartRequest.fromPartial({
          uploadId: a.id,
          partNumber: 1,
          body: { data: randomBytes(1000) },
        }),
      ],
      u.headers,
    );
    expect(await usage(u.userId)).toMatchObject({ reserved: 7000 });
    await overdue([a.id, b.id, d.id]);
    const rowA = await uploadRow(a.id);

    // A cut-off before their expiry leaves them alone.
    expect(await expire({ cutoffTime: new Date(Date.now() - 2 * 3_600_000) })).toEqual({
      expired: 0,
      more: false,
    });
    expect(await expire({ maxItems: 2 })).toEqual({ expired: 2, more: true });
    expect(await expire({ maxItems: 2 })).toEqual({ expired: 1, more: false });
    expect(await expire({})).toEqual({ expired: 0, more: false });

    expect(await usage(u.userId)).toMatchObject({ reserved: 4000 });
    expect(await usage(v.userId)).toMatchObject({ reserved: 0 });
    const usageNow = await rpc(fm.f, fm.f.getUsage, {}, u.headers);
    expect(usageNow.usage?.reservedBytes).toBe("4000");
    for (const id of [a.id, b.id, d.id]) expect((await uploadRow(id)).state).toBe(4);
    expect((await uploadRow(c.id)).state).toBe(1);
    await expect(blobs.listParts(rowA.object_key, rowA.multipart_id)).rejects.toBeInstanceOf(
      BlobNotFoundError,
    );
    const live = await multipartIds();
    expect(live).toContain((await uploadRow(c.id)).multipart_id);
    for (const id of [a.id, b.id, d.id]) expect(live).not.toContain((await uploadRow(id)).multipart_id);
    const got = await rpc(fm.f, fm.f.getUpload, { uploadId: a.id }, u.headers);
    expect(got.upload?.state).toBe(filev1.UploadState.UPLOAD_STATE_EXPIRED);
  });

  it("releases each overdue session's reservation exactly once when replicas expire at the same time", async () => {
    const w = await fm.mesh.newUser();
    const keep = await session(w.headers, 1000);
    const due = await Promise.all(Array.from({ length: 8 }, () => session(w.headers, 100)));
    await overdue(due.map((s) => s.id));
    expect(await usage(w.userId)).toMatchObject({ reserved: 1800 });
    const answers = await Promise.all([
      expire({ maxItems: 3 }),
      expire({ maxItems: 3 }),
      expire({ maxItems: 3 }),
    ]);
    let expired = answers.reduce((n, r) => n + r.expired, 0);
    while (expired < 8) {
      const r = await expire({ maxItems: 3 });
      if (r.expired === 0) break;
      expired += r.expired;
    }
    expect(expired).toBe(8);
    expect(await usage(w.userId)).toMatchObject({ reserved: 1000 });
    expect((await uploadRow(keep.id)).state).toBe(1);
  });

  it("purges trash older than the cut-off like a permanent delete; newer trash stays", async () => {
    const u = await fm.mesh.newUser();
    const folder = await fm.folder(u.headers, uniqueId("old"));
    const x = await fm.upload(u.headers, "x.bin", randomBytes(300), folder.id);
    const y = await fm.upload(u.headers, "y.bin", randomBytes(200));
    const z = await fm.upload(u.headers, "z.bin", randomBytes(100));
    const keys = { x: await objectKeyOf(x.currentVersionId), y: await objectKeyOf(y.currentVersionId) };
    await blobs.put(thumbnailKey(keys.y), Readable.from([Buffer.from("thumbnail of y")]));
    for (const id of [folder.id, y.id, z.id])
      await rpc(fm.f, fm.f.deleteFile, filev1.DeleteFileRequest.fromPartial({ fileId: id }), u.headers);
    await fm.db.query(
      "UPDATE files.files SET trash_time = now() - interval '10 days' WHERE trash_root_id = ANY($1::uuid[])",
      [[folder.id, y.id]],
    );
    expect(await usage(u.userId)).toMatchObject({ used: 600, files: 3 });

    const cutoffTime = new Date(Date.now() - 86_400_000);
    expect(await purge({ cutoffTime, maxItems: 1 })).toEqual({ purged: 1, more: true });
    expect(await purge({ cutoffTime, maxItems: 1 })).toEqual({ purged: 1, more: false });
    expect(await purge({ cutoffTime })).toEqual({ purged: 0, more: false });

    for (const id of [folder.id, x.id, y.id]) {
      expect(await failure(rpc(fm.f, fm.f.getFile, { fileId: id }, u.headers))).toMatchObject({
        code: status.NOT_FOUND,
        reason: "FILE_NOT_FOUND",
      });
    }
    const trash = await rpc(fm.f, fm.f.listTrash, filev1.ListTrashRequest.fromPartial({}), u.headers);
    expect(trash.files.map((f) => f.id)).toEqual([z.id]);
    expect(await usage(u.userId)).toMatchObject({ used: 100, files: 1 });
    for (const k of [keys.x, keys.y, thumbnailKey(keys.y)]) expect(await blobs.stat(k)).toBeUndefined();
    expect(await blobs.stat(await objectKeyOf(z.currentVersionId))).toEqual({ sizeBytes: 100 });
    // Audit-friendly: one file_deleted per purged root, by the processor.
    const { rows } = await fm.db.query(
      "SELECT payload FROM files.outbox WHERE subject = 'filemesh.files.file_deleted'",
    );
    const deleted = rows.map((r) => eventsv1.FileDeleted.decode(r.payload));
    expect(deleted.map((e) => [e.fileId, e.freedBytes, e.meta?.actor]).sort()).toEqual(
      [
        [folder.id, "300", "service:processor"],
        [y.id, "200", "service:processor"],
      ].sort(),
    );
  });

  it("reconciles the store: orphans removed, missing content marked and served NOT_FOUND, nothing newer touched", async () => {
    const u = await fm.mesh.newUser();
    const kept = await fm.upload(u.headers, "kept.txt", Buffer.from("kept content"));
    const lost = await fm.upload(u.headers, "lost.txt", Buffer.from("lost content"));
    const lost2 = await fm.upload(u.headers, "lost2.txt", Buffer.from("lost too"));
    const keptKey = await objectKeyOf(kept.currentVersionId);
    const lostKey = await objectKeyOf(lost.currentVersionId);
    // The processor's thumbnail of a version is not an orphan.
    await blobs.put(thumbnailKey(keptKey), Readable.from([Buffer.from("thumbnail")]));
    const orphan = newObjectKey();
    await blobs.put(orphan, Readable.from([Buffer.from("no row")]));
    const orphanUpload = await blobs.createMultipart(newObjectKey());
    const live = await session(u.headers, 10);
    const link = (
      await rpc(
        fm.f,
        fm.f.createShareLink,
        filev1.CreateShareLinkRequest.fromPartial({ fileId: lost.id }),
        u.headers,
      )
    ).link!;
    await blobs.delete(lostKey);
    await blobs.delete(await objectKeyOf(lost2.currentVersionId));
    // Before the janitor's pass a download of the lost content is NOT_FOUND, not INTERNAL.
    const read = (fileId: string) =>
      collect(
        fm.f.getFileContent(filev1.GetFileContentRequest.fromPartial({ fileId }), metadataOf(u.headers)),
      );
    expect(await failure(read(lost.id))).toMatchObject({ code: status.NOT_FOUND, reason: "CONTENT_MISSING" });

    // Everything above is older than the cut-off; everything below is newer.
    await sleep(2100);
    const cutoffTime = new Date(Date.now() - 1000);
    const newOrphan = newObjectKey();
    await blobs.put(newOrphan, Readable.from([Buffer.from("no row yet")]));
    const newUpload = await blobs.createMultipart(newObjectKey());
    const fresh = await fm.upload(u.headers, "fresh.txt", Buffer.from("fresh"));
    await blobs.delete(await objectKeyOf(fresh.currentVersionId));

    const first = await walk(cutoffTime, 2);
    expect(first).toMatchObject({ removedObjects: 1, abortedUploads: 1, markedMissingRows: 2 });
    expect(first.calls).toBeGreaterThan(3);
    expect(await walk(cutoffTime, 100)).toMatchObject({
      removedObjects: 0,
      abortedUploads: 0,
      markedMissingRows: 0,
    });

    expect(await blobs.stat(orphan)).toBeUndefined();
    for (const k of [newOrphan, keptKey, thumbnailKey(keptKey)]) expect(await blobs.stat(k)).toBeDefined();
    const uploads = await multipartIds();
    expect(uploads).not.toContain(orphanUpload);
    expect(uploads).toEqual(expect.arrayContaining([newUpload, (await uploadRow(live.id)).multipart_id]));

    // Marked: not found for reads and listings (fresh is newer than the cut-off: untouched).
    const notFound = { code: status.NOT_FOUND, reason: "FILE_NOT_FOUND" };
    expect(await failure(rpc(fm.f, fm.f.getFile, { fileId: lost.id }, u.headers))).toMatchObject(notFound);
    expect(await failure(read(lost.id))).toMatchObject(notFound);
    expect(
      await failure(
        collect(
          fm.f.readFile(filev1.ReadFileRequest.fromPartial({ fileId: lost.id }), metadataOf(u.headers)),
        ),
      ),
    ).toMatchObject(notFound);
    const listed = await rpc(fm.f, fm.f.listFiles, filev1.ListFilesRequest.fromPartial({}), u.headers);
    expect(listed.files.map((f) => f.name).sort()).toEqual(["fresh.txt", "kept.txt"]);
    expect((await rpc(fm.f, fm.f.getFile, { fileId: fresh.id }, u.headers)).file?.id).toBe(fresh.id);
    const shared = filev1.GetSharedLinkRequest.fromPartial({ token: link.token });
    expect(await failure(rpc(fm.f, fm.f.getSharedLink, shared))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "LINK_NOT_FOUND",
    });

    // Content back in the store, or uploaded again under the name: served again.
    await blobs.put(lostKey, Readable.from([Buffer.from("lost content")]));
    expect(await walk(cutoffTime, 100)).toMatchObject({ removedObjects: 0, markedMissingRows: 0 });
    const back = await read(lost.id);
    expect(Buffer.concat(back.map((m) => Buffer.from(m.data))).toString()).toBe("lost content");
    const again = await fm.upload(u.headers, "lost2.txt", Buffer.from("uploaded again"));
    expect(again.id).toBe(lost2.id);
    expect((await rpc(fm.f, fm.f.getFile, { fileId: lost2.id }, u.headers)).file?.currentVersionId).toBe(
      again.currentVersionId,
    );
  });

  it("recognises thumbnails by the same key rule in SQL as in the code", async () => {
    const keys = Array.from({ length: 20 }, newObjectKey);
    const { rows } = await fm.db.query("SELECT files.thumbnail_key(k) AS t FROM unnest($1::text[]) k", [
      keys,
    ]);
    expect(rows.map((r) => r.t)).toEqual(keys.map(thumbnailKey));
  });

  it("keeps object keys unique with one bytewise index, which the janitor's look-up uses", async () => {
    const { rows: indexes } = await fm.db.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = 'files' AND tablename = 'versions'
         AND indexdef LIKE '%(object_key%' AND indexname <> 'versions_thumbnail_key_idx' ORDER BY 1`,
    );
    expect(indexes.map((r) => r.indexname)).toEqual(["versions_object_key_c_key"]);
    const u = await fm.mesh.newUser();
    const f = await fm.upload(u.headers, "keyed.txt", Buffer.from("keyed"));
    const { rows } = await fm.db.query("SELECT object_key, file_id FROM files.versions WHERE file_id = $1", [
      f.id,
    ]);
    const key = rows[0].object_key as string;
    const copy = fm.db.query(
      `INSERT INTO files.versions (id, file_id, owner_id, object_key, size_bytes, sha256, content_type, state, creator)
       SELECT gen_random_uuid(), file_id, owner_id, object_key, size_bytes, sha256, content_type, state, creator
       FROM files.versions WHERE file_id = $1`,
      [f.id],
    );
    await expect(copy).rejects.toMatchObject({ code: "23505", constraint: "versions_object_key_c_key" });
    // The janitor's look-up can use the index (with sequential scans off, a small table's plan
    // shows it; a comparison in another collation could not).
    const c = await fm.db.connect();
    try {
      await c.query("BEGIN");
      await c.query("SET LOCAL enable_seqscan = off");
      const { rows: plan } = await c.query(`EXPLAIN ${REFERENCED_KEYS}`, [[key]]);
      // A look-up per key in the index (another collation reads the whole index instead).
      expect(plan.map((r) => r["QUERY PLAN"]).join("\n")).toMatch(
        /versions_object_key_c_key on versions .*\n\s*Index Cond: \(object_key = k\.k\)/,
      );
    } finally {
      await c.query("ROLLBACK");
      c.release();
    }
    expect(await referencedKeys(fm.db, [key, newObjectKey()])).toEqual(new Set([key]));
  });
});
