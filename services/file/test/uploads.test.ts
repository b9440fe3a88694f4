// Uploads on both drivers: raw bodies, sessions with parts (through the service, and presigned
// straight to MinIO), quotas (also under 20 concurrent sessions), verification of size and
// SHA-256 (nothing visible on a mismatch), versions by name, and what a stranger sees.
import { createHash, randomBytes } from "node:crypto";
import { eventsv1, filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { rawUpload, rpc, send, useFileMesh } from "./start-file.js";

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

describe.each(["fs", "s3"] as const)("uploads (%s driver)", (driver) => {
  const part = driver === "s3" ? 5 * MiB : MiB;
  const t = useFileMesh({
    driver,
    env: {
      MAX_RAW_UPLOAD_BYTES: String(2 * MiB),
      DEFAULT_QUOTA_BYTES: String(40 * MiB),
      UPLOAD_PART_BYTES: String(part),
    },
  });

  type H = Record<string, string>;
  const usage = async (userId: string) => {
    const { rows } = await t.db.query(
      "SELECT used_bytes, reserved_bytes, file_count FROM files.usage WHERE user_id = $1",
      [userId],
    );
    return rows[0] as { used_bytes: string; reserved_bytes: string; file_count: string };
  };
  const listNames = async (h: H) =>
    (await rpc(t.f, t.f.listFiles, filev1.ListFilesRequest.fromPartial({}), h)).files.map((f) => f.name);
  const createUpload = (h: H, r: Partial<filev1.CreateUploadRequest>) =>
    rpc(t.f, t.f.createUpload, filev1.CreateUploadRequest.fromPartial(r), h).then((x) => x.upload!);
  const putPart = (h: H, uploadId: string, partNumber: number, data: Buffer) =>
    send(
      t.f,
      t.f.uploadPart,
      [filev1.UploadPartRequest.fromPartial({ uploadId, partNumber, body: { data } })],
      h,
    );

  it("stores a raw body, decides its type from the bytes, and shows it at once", async () => {
    const a = await t.mesh.newUser();
    const data = Buffer.concat([PNG, randomBytes(300_000)]);
    const f = await t.upload(a.headers, "photo.txt", data, "", sha(data).toUpperCase());
    expect(f).toMatchObject({
      name: "photo.txt",
      kind: filev1.FileKind.FILE,
      state: filev1.FileState.READY,
      sizeBytes: String(data.length),
      sha256: sha(data),
      contentType: "image/png",
      ownerId: a.userId,
    });
    expect((await rpc(t.f, t.f.getFile, { fileId: f.id }, a.headers)).file?.etag).toBe(f.etag);
    expect(await listNames(a.headers)).toEqual(["photo.txt"]);
    expect(await usage(a.userId)).toEqual({
      used_bytes: String(data.length),
      reserved_bytes: "0",
      file_count: "1",
    });
    const text = await t.upload(a.headers, "notes.bin", "hello, world\n");
    expect(text.contentType).toBe("text/plain; charset=utf-8");
  });

  it("adds a version when the name exists, with its events", async () => {
    const a = await t.mesh.newUser();
    const v1 = await t.upload(a.headers, "doc", "one");
    const v2 = await t.upload(a.headers, "doc", "two!");
    expect(v2.id).toBe(v1.id);
    expect(v2.currentVersionId).not.toBe(v1.currentVersionId);
    expect(v2.sizeBytes).toBe("4");
    expect((await usage(a.userId)).used_bytes).toBe("7");
    const { rows } = await t.db.query(
      "SELECT subject, payload FROM files.outbox WHERE position(convert_to($1, 'UTF8') in payload) > 0 ORDER BY seq DESC",
      [v1.id],
    );
    const uploaded = rows
      .filter((r) => r.subject === "filemesh.files.file_uploaded")
      .map((r) => eventsv1.FileUploaded.decode(r.payload))
      .filter((e) => e.fileId === v1.id);
    expect(uploaded.map((e) => [e.versionId, e.newVersion, e.sizeBytes])).toEqual([
      [v2.currentVersionId, true, "4"],
      [v1.currentVersionId, false, "3"],
    ]);
    expect(uploaded[0]?.objectKey).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
    const added = rows
      .filter((r) => r.subject === "filemesh.files.version_added")
      .map((r) => eventsv1.VersionAdded.decode(r.payload))
      .filter((e) => e.fileId === v1.id);
    expect(added.map((e) => e.versionId)).toEqual([v2.currentVersionId]);
    await rpc(t.f, t.f.createFolder, { parentId: "", name: "dir", requestId: "" }, a.headers);
    expect(await failure(t.upload(a.headers, "dir", "x"))).toMatchObject({
      code: status.ALREADY_EXISTS,
      reason: "NAME_CONFLICT",
    });
  });

  it("commits a retried raw upload (same request_id) once", async () => {
    const a = await t.mesh.newUser();
    const data = Buffer.from("retried body");
    const msgs = () => rawUpload("", "once.txt", data, "", `rid-${a.userId}`);
    const first = (await send(t.f, t.f.uploadFile, msgs(), a.headers)) as filev1.UploadFileResponse;
    const again = (await send(t.f, t.f.uploadFile, msgs(), a.headers)) as filev1.UploadFileResponse;
    expect(again.file?.currentVersionId).toBe(first.file?.currentVersionId);
    expect(await usage(a.userId)).toEqual({
      used_bytes: String(data.length),
      reserved_bytes: "0",
      file_count: "1",
    });
  });

  it("rejects a wrong SHA-256, an oversized body and an exceeded quota, leaving nothing behind", async () => {
    const a = await t.mesh.newUser();
    expect(await failure(t.upload(a.headers, "bad", "abc", "", sha(Buffer.from("abd"))))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "CHECKSUM_MISMATCH",
    });
    expect(await failure(t.upload(a.headers, "big", randomBytes(2 * MiB + 1)))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      reason: "UPLOAD_TOO_LARGE",
    });
    expect(await failure(t.upload(a.headers, "x", "x", "", "nothex"))).toMatchObject({
      reason: "INVALID_SHA256",
    });
    expect(await listNames(a.headers)).toEqual([]);
    expect(await usage(a.userId)).toMatchObject({ used_bytes: "0", reserved_bytes: "0" });
    // Quota: 40 MiB; a 39 MiB session leaves room for less than 2 MiB of raw upload.
    const s = await createUpload(a.headers, { name: "reserved", sizeBytes: String(39 * MiB) });
    expect(await failure(t.upload(a.headers, "over", randomBytes(MiB + 10)))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      reason: "QUOTA_EXCEEDED",
    });
    await rpc(t.f, t.f.cancelUpload, { uploadId: s.id }, a.headers);
    expect((await t.upload(a.headers, "fits", randomBytes(MiB + 10))).name).toBe("fits");
    const { rows } = await t.db.query("SELECT count(*)::int AS n FROM files.versions WHERE owner_id = $1", [
      a.userId,
    ]);
    expect(rows[0].n).toBe(1);
  });

  it("never lets 20 concurrent sessions together pass the quota", async () => {
    const a = await t.mesh.newUser();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        createUpload(a.headers, { name: `s${i}`, sizeBytes: String(3 * MiB) }),
      ),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    expect(ok).toHaveLength(13); // floor(40 / 3)
    for (const r of results) {
      if (r.status === "rejected")
        expect(await failure(Promise.reject(r.reason))).toMatchObject({ reason: "QUOTA_EXCEEDED" });
    }
    expect((await usage(a.userId)).reserved_bytes).toBe(String(39 * MiB));
  });

  it("never lets concurrent raw uploads together pass the quota", async () => {
    const a = await t.mesh.newUser();
    // 38 of the 40 MiB taken by a session: room for one 1.5 MiB body, not two.
    await createUpload(a.headers, { name: "hold", sizeBytes: String(38 * MiB) });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => t.upload(a.headers, `r${i}`, randomBytes(1.5 * MiB))),
    );
    // Reserved step by step as bytes arrive: racing bodies may starve each other, never overrun.
    expect(results.filter((r) => r.status === "fulfilled").length).toBeLessThanOrEqual(1);
    for (const r of results) {
      if (r.status === "rejected")
        expect(await failure(Promise.reject(r.reason))).toMatchObject({ reason: "QUOTA_EXCEEDED" });
    }
    const u = await usage(a.userId);
    expect(BigInt(u.used_bytes) + BigInt(u.reserved_bytes)).toBeLessThanOrEqual(BigInt(40 * MiB));
    expect(u.reserved_bytes).toBe(String(38 * MiB));
    if (u.used_bytes === "0")
      expect((await t.upload(a.headers, "alone", randomBytes(1.5 * MiB))).name).toBe("alone");
  });

  it("claims a small body's quota at its commit: concurrent small uploads never pass it together", async () => {
    const a = await t.mesh.newUser();
    // 40 MiB − 100 KiB held by a session: room for one 64 KiB body, not two. Small bodies reserve
    // nothing while they arrive (domain/reservation.ts); the commit's one conditional claim decides.
    await createUpload(a.headers, { name: "hold", sizeBytes: String(40 * MiB - 100 * 1024) });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => t.upload(a.headers, `small${i}`, randomBytes(64 * 1024))),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected")
        expect(await failure(Promise.reject(r.reason))).toMatchObject({
          code: status.RESOURCE_EXHAUSTED,
          reason: "QUOTA_EXCEEDED",
        });
    }
    expect(await usage(a.userId)).toEqual({
      used_bytes: String(64 * 1024),
      reserved_bytes: String(40 * MiB - 100 * 1024),
      file_count: "1",
    });
    const { rows } = await t.db.query(
      "SELECT (SELECT count(*)::int FROM files.versions WHERE owner_id = $1) AS versions, (SELECT count(*)::int FROM files.reservations WHERE owner_id = $1) AS reservations",
      [a.userId],
    );
    expect(rows[0]).toEqual({ versions: 1, reservations: 0 });
  });

  it("completes a session of parts sent through the service, verifying size and hash", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(part * 2 + 1234);
    const u = await createUpload(a.headers, {
      name: "big.bin",
      sizeBytes: String(data.length),
      sha256: sha(data),
      partSizeBytes: String(part),
    });
    expect(u).toMatchObject({
      partCount: 3,
      partSizeBytes: String(part),
      state: filev1.UploadState.UPLOAD_STATE_ACTIVE,
    });
    expect(u.partUrls.length).toBe(driver === "s3" ? 3 : 0);
    await putPart(a.headers, u.id, 3, data.subarray(2 * part));
    await putPart(a.headers, u.id, 1, data.subarray(0, part));
    expect(await failure(putPart(a.headers, u.id, 2, data.subarray(part, 2 * part - 1)))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "PART_SIZE_MISMATCH",
    });
    expect(
      await failure(rpc(t.f, t.f.completeUpload, { uploadId: u.id, parts: [] }, a.headers)),
    ).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "UPLOAD_INCOMPLETE",
    });
    await putPart(a.headers, u.id, 2, data.subarray(part, 2 * part));
    const got = (await rpc(t.f, t.f.getUpload, { uploadId: u.id }, a.headers)).upload!;
    expect(got.committedSizeBytes).toBe(String(data.length));
    const file = (await rpc(t.f, t.f.completeUpload, { uploadId: u.id, parts: [] }, a.headers)).file!;
    expect(file).toMatchObject({ name: "big.bin", sha256: sha(data), sizeBytes: String(data.length) });
    // Completing again answers the same file.
    expect((await rpc(t.f, t.f.completeUpload, { uploadId: u.id, parts: [] }, a.headers)).file?.id).toBe(
      file.id,
    );
    expect(await usage(a.userId)).toMatchObject({ used_bytes: String(data.length), reserved_bytes: "0" });
    const b = await t.mesh.newUser();
    expect(await failure(rpc(t.f, t.f.getUpload, { uploadId: u.id }, b.headers))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "UPLOAD_NOT_FOUND",
    });
  });

  it("rejects a session whose content does not match its SHA-256, releasing the quota", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(1000);
    const u = await createUpload(a.headers, {
      name: "wrong",
      sizeBytes: "1000",
      sha256: sha(Buffer.from("other")),
    });
    await putPart(a.headers, u.id, 1, data);
    expect(
      await failure(rpc(t.f, t.f.completeUpload, { uploadId: u.id, parts: [] }, a.headers)),
    ).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "CHECKSUM_MISMATCH",
    });
    expect((await rpc(t.f, t.f.getUpload, { uploadId: u.id }, a.headers)).upload?.state).toBe(
      filev1.UploadState.UPLOAD_STATE_ABORTED,
    );
    expect(await listNames(a.headers)).toEqual([]);
    expect(await usage(a.userId)).toMatchObject({ used_bytes: "0", reserved_bytes: "0" });
  });

  it("presigned part URLs go straight to the store (s3), or are refused clearly (fs)", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(part + 10);
    const u = await createUpload(a.headers, {
      name: "direct",
      sizeBytes: String(data.length),
      sha256: sha(data),
    });
    if (driver === "fs") {
      expect(
        await failure(rpc(t.f, t.f.refreshUploadUrls, { uploadId: u.id, partNumbers: [] }, a.headers)),
      ).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "PRESIGN_UNSUPPORTED" });
      return;
    }
    const first = u.partUrls.find((p) => p.partNumber === 1)!;
    expect((await fetch(first.url, { method: "PUT", body: data.subarray(0, part) })).status).toBe(200);
    const fresh = await rpc(t.f, t.f.refreshUploadUrls, { uploadId: u.id, partNumbers: [] }, a.headers);
    expect(fresh.partUrls.map((p) => p.partNumber)).toEqual([2]);
    expect((await fetch(fresh.partUrls[0]!.url, { method: "PUT", body: data.subarray(part) })).status).toBe(
      200,
    );
    expect((await fetch(fresh.partUrls[0]!.url)).status).toBe(403);
    const file = (await rpc(t.f, t.f.completeUpload, { uploadId: u.id, parts: [] }, a.headers)).file!;
    expect(file.sha256).toBe(sha(data));
  });
});
