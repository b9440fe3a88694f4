// RunJanitor end to end: the admin RPC on the processor, the file service's janitor
// operations behind it, S3 on a MinIO the test starts, on a database and nats-server of the
// test's own. One pass cleans what is older than its cut-offs and leaves the newer alone; a
// second pass finds nothing left to do.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { filev1 } from "@filemesh/contracts";
import { BlobNotFoundError, type BlobStore, newObjectKey } from "@filemesh/kit/blob";
import { call, failure, startTestMinio, type TestMinio, uniqueId } from "@filemesh/kit/testing";
import { Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProcessorConfig } from "../src/config.js";
import { createBlobs } from "../src/pipeline/blob-access.js";
import { type ProcessorMesh, startProcessorMesh } from "./support.js";
import { uploadFile } from "./uploads-support.js";

let pm: ProcessorMesh;
let minio: TestMinio;
let blobs: BlobStore;

beforeAll(async () => {
  minio = await startTestMinio();
  const blobEnv = minio.env(uniqueId("jan").toLowerCase());
  pm = await startProcessorMesh({
    services: ["auth", "permission", "user", "file", "processor"],
    serviceEnv: {
      file: blobEnv,
      processor: {
        ...blobEnv,
        JANITOR_INTERVAL: "0s",
        TRASH_RETENTION: "7d",
        ORPHAN_GRACE: "2s",
        // Several calls per task: the processor goes on while the file service has more.
        JANITOR_BATCH: "1",
      },
    },
  });
  blobs = createBlobs(loadProcessorConfig({ ...pm.mesh.env, ...blobEnv }));
});

afterAll(async () => {
  await pm?.stop();
  await minio?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("RunJanitor through the real file service (S3)", () => {
  it("expires, purges and reconciles what is older than its cut-offs, and nothing newer", async () => {
    const { mesh } = pm;
    const f = mesh.file;
    const u = await mesh.newUser();
    const rpc = <Req, Res>(fn: Parameters<typeof call<Req, Res>>[0], req: Req) =>
      call(fn.bind(f) as typeof fn, req, u.headers);
    const sql = (text: string, values: unknown[] = []) => pm.pool.query(text, values).then((r) => r.rows);
    const session = async (sizeBytes: number) =>
      (
        await rpc(
          f.createUpload,
          filev1.CreateUploadRequest.fromPartial({
            name: `${uniqueId("s")}.bin`,
            sizeBytes: String(sizeBytes),
          }),
        )
      ).upload!;
    const objectKey = async (file: filev1.File) =>
      (await sql("SELECT object_key FROM files.versions WHERE id = $1", [file.currentVersionId]))[0]
        .object_key;

    // An abandoned session (past its expiry, one part stored) and a live one.
    const abandoned = await session(3000);
    const live = await session(5000);
    await new Promise<void>((resolve, reject) => {
      const md = new Metadata();
      for (const [k, v] of Object.entries(u.headers)) md.set(k, v);
      const s = f.uploadPart(md, (err) => (err ? reject(err) : resolve()));
      s.write(
        filev1.UploadPartRequest.fromPartial({
          uploadId: abandoned.id,
          partNumber: 1,
          body: { data: randomBytes(3000) },
        }),
      );
      s.end();
    });
    await sql("UPDATE files.uploads SET expire_time = now() - interval '1 minute' WHERE id = $1", [
      abandoned.id,
    ]);
    const [abandonedRow] = await sql("SELECT object_key, multipart_id FROM files.uploads WHERE id = $1", [
      abandoned.id,
    ]);
    // (Read directly: GetUsage would expire the caller's overdue session itself.)
    const [before] = await sql("SELECT reserved_bytes::int AS reserved FROM files.usage WHERE user_id = $1", [
      u.userId,
    ]);
    expect(before.reserved).toBe(8000);

    // Trash past the retention and trash within it.
    const oldTrash = await uploadFile(f, u.headers, "old.txt", Buffer.from("trashed long ago"));
    const newTrash = await uploadFile(f, u.headers, "new.txt", Buffer.from("trashed today"));
    for (const t of [oldTrash, newTrash])
      await rpc(f.deleteFile, filev1.DeleteFileRequest.fromPartial({ fileId: t.id }));
    await sql("UPDATE files.files SET trash_time = now() - interval '8 days' WHERE id = $1", [oldTrash.id]);
    const oldTrashKey = await objectKey(oldTrash);

    // A file whose object is deleted behind the service's back, an orphan object and an
    // orphan multipart upload — all older than the orphan grace by the time the pass runs.
    const damaged = await uploadFile(f, u.headers, "damaged.txt", Buffer.from("soon gone"));
    await blobs.delete(await objectKey(damaged));
    const orphan = newObjectKey();
    await blobs.put(orphan, Readable.from([Buffer.from("no row")]));
    const orphanUpload = await blobs.createMultipart(newObjectKey());
    await sleep(3000);
    const newOrphan = newObjectKey();
    await blobs.put(newOrphan, Readable.from([Buffer.from("no row yet")]));
    const newUpload = await blobs.createMultipart(newObjectKey());

    const counts = await call(mesh.processor.runJanitor.bind(mesh.processor), {}, pm.admin.headers);
    expect(counts).toEqual({
      expiredUploads: 1,
      purgedTrash: 1,
      removedOrphanObjects: 1,
      markedMissingRows: 1,
      abortedOrphanUploads: 1,
    });

    // Sessions: the abandoned one expired, its parts aborted, its reservation released.
    expect((await rpc(f.getUsage, {})).usage?.reservedBytes).toBe("5000");
    expect((await rpc(f.getUpload, { uploadId: abandoned.id })).upload?.state).toBe(
      filev1.UploadState.UPLOAD_STATE_EXPIRED,
    );
    expect((await rpc(f.getUpload, { uploadId: live.id })).upload?.state).toBe(
      filev1.UploadState.UPLOAD_STATE_ACTIVE,
    );
    await expect(blobs.listParts(abandonedRow.object_key, abandonedRow.multipart_id)).rejects.toBeInstanceOf(
      BlobNotFoundError,
    );
    // Trash: the old item gone with its bytes, the new one still there.
    expect(await failure(rpc(f.getFile, { fileId: oldTrash.id }))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect(await blobs.stat(oldTrashKey)).toBeUndefined();
    const trash = await rpc(f.listTrash, filev1.ListTrashRequest.fromPartial({}));
    expect(trash.files.map((t) => t.id)).toEqual([newTrash.id]);
    // Orphans: the old ones removed, the new ones kept.
    expect(await blobs.stat(orphan)).toBeUndefined();
    expect(await blobs.stat(newOrphan)).toBeDefined();
    const uploads = [];
    for await (const up of blobs.listMultipartUploads()) uploads.push(up.uploadId);
    expect(uploads).not.toContain(orphanUpload);
    expect(uploads).toContain(newUpload);
    // The damaged file is not found (not INTERNAL), in reads and listings.
    expect(await failure(rpc(f.getFile, { fileId: damaged.id }))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    const listed = await rpc(f.listFiles, filev1.ListFilesRequest.fromPartial({}));
    expect(listed.files.map((x) => x.name)).toEqual([]);

    const runs = await sql("SELECT trigger, counts, error FROM jobs.janitor_runs ORDER BY start_time");
    expect(runs).toEqual([{ trigger: "admin", counts, error: "" }]);

    // Nothing left to do for a second pass.
    expect(await call(mesh.processor.runJanitor.bind(mesh.processor), {}, pm.admin.headers)).toEqual({
      expiredUploads: 0,
      purgedTrash: 0,
      removedOrphanObjects: 0,
      markedMissingRows: 0,
      abortedOrphanUploads: 0,
    });
  });
});
