// Trash (recursive, restore, name clashes, permanent delete freeing quota and bytes) and
// versions, with who may do what.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { eventsv1, filev1, permissionv1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { collect, metadataOf, rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh();

type H = Record<string, string>;
const del = (h: H, fileId: string, permanent = false, etag = "") =>
  rpc(t.f, t.f.deleteFile, { fileId, permanent, etag }, h);
const restore = (h: H, fileId: string) => rpc(t.f, t.f.restoreFile, { fileId }, h).then((r) => r.file!);
const names = async (h: H, parentId = "") =>
  (await rpc(t.f, t.f.listFiles, filev1.ListFilesRequest.fromPartial({ parentId }), h)).files.map(
    (f) => f.name,
  );
const trash = async (h: H) =>
  (await rpc(t.f, t.f.listTrash, { pageSize: 0, pageToken: "" }, h)).files.map((f) => f.name);
const lastEvents = async (subject: string) =>
  (
    await t.db.query("SELECT payload FROM files.outbox WHERE subject = $1 ORDER BY seq DESC LIMIT 50", [
      subject,
    ])
  ).rows;

describe("trash", () => {
  it("trashes a folder with everything in it, and restores it all", async () => {
    const a = await t.mesh.newUser();
    const dir = await t.folder(a.headers, "dir");
    const inner = await t.upload(a.headers, "inner.txt", "inner", dir.id);
    const trashed = (await del(a.headers, dir.id)).file!;
    expect(trashed.trashTime).toBeInstanceOf(Date);
    expect(await names(a.headers)).toEqual([]);
    expect(await trash(a.headers)).toEqual(["dir"]);
    expect((await rpc(t.f, t.f.getFile, { fileId: inner.id }, a.headers)).file?.trashTime).toBeInstanceOf(
      Date,
    );
    const content = collect(
      t.f.getFileContent(
        filev1.GetFileContentRequest.fromPartial({ fileId: inner.id }),
        metadataOf(a.headers),
      ),
    );
    expect(await failure(content)).toMatchObject({ code: status.NOT_FOUND });
    expect(await failure(restore(a.headers, inner.id))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "TRASHED_WITH_FOLDER",
    });
    // The name is free while the folder is in the trash; restoring onto a taken name clashes.
    const again = await t.folder(a.headers, "dir");
    expect(await failure(restore(a.headers, dir.id))).toMatchObject({
      code: status.ALREADY_EXISTS,
      reason: "NAME_CONFLICT",
    });
    await del(a.headers, again.id, true);
    expect((await restore(a.headers, dir.id)).trashTime).toBeUndefined();
    expect(await names(a.headers, dir.id)).toEqual(["inner.txt"]);
    expect(await trash(a.headers)).toEqual([]);
    const trashedEvents = (await lastEvents("filemesh.files.file_trashed")).map((r) =>
      eventsv1.FileTrashed.decode(r.payload),
    );
    expect(trashedEvents.some((e) => e.fileId === dir.id)).toBe(true);
    const restored = (await lastEvents("filemesh.files.file_restored")).map((r) =>
      eventsv1.FileRestored.decode(r.payload),
    );
    expect(restored.some((e) => e.fileId === dir.id)).toBe(true);
  });

  it("deletes for good: rows, bytes, quota and tuples", async () => {
    const a = await t.mesh.newUser();
    const dir = await t.folder(a.headers, "gone");
    const f = await t.upload(a.headers, "x.bin", "12345", dir.id);
    await t.upload(a.headers, "x.bin", "1234567", dir.id);
    const { rows } = await t.db.query("SELECT object_key FROM files.versions WHERE file_id = $1", [f.id]);
    expect(rows).toHaveLength(2);
    await del(a.headers, dir.id);
    expect((await rpc(t.f, t.f.getUsage, {}, a.headers)).usage).toMatchObject({
      usedBytes: "12",
      fileCount: "1",
    });
    expect(await del(a.headers, dir.id, true)).toEqual({ file: undefined });
    expect((await rpc(t.f, t.f.getUsage, {}, a.headers)).usage).toMatchObject({
      usedBytes: "0",
      fileCount: "0",
    });
    for (const r of rows) expect(existsSync(join(t.blobDir, "objects", r.object_key))).toBe(false);
    expect(await failure(rpc(t.f, t.f.getFile, { fileId: f.id }, a.headers))).toMatchObject({
      code: status.NOT_FOUND,
    });
    const check = await rpc(
      t.mesh.permission,
      t.mesh.permission.check,
      permissionv1.CheckRequest.fromPartial({ resource: `file:${f.id}`, permission: "read" }),
      a.headers,
    );
    expect(check.allowed).toBe(false);
    const deleted = (await lastEvents("filemesh.files.file_deleted")).map((r) =>
      eventsv1.FileDeleted.decode(r.payload),
    );
    expect(deleted.find((e) => e.fileId === dir.id)?.freedBytes).toBe("12");
  });

  it("needs delete permission, a matching etag, and never takes a home folder", async () => {
    const [a, e, s] = [await t.mesh.newUser(), await t.mesh.newUser(), await t.mesh.newUser()];
    const f = await t.upload(a.headers, "keep.txt", "keep");
    await t.grant(a.headers, f.id, `user:${e.userId}`, "editor");
    expect(await failure(del(e.headers, f.id))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "DELETE_DENIED",
    });
    expect(await failure(del(s.headers, f.id))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect(await failure(del(a.headers, f.id, false, "stale"))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "ETAG_MISMATCH",
    });
    expect(await failure(del(a.headers, f.parentId))).toMatchObject({ reason: "HOME_FOLDER" });
    expect((await del(a.headers, f.id, false, f.etag)).file?.id).toBe(f.id);
  });
});

describe("trash listing", () => {
  it("shows what the caller trashed only while they can still read it", async () => {
    const [a, c] = [await t.mesh.newUser(), await t.mesh.newUser()];
    const f = await t.upload(a.headers, "theirs.txt", "x");
    const { grant } = await t.grant(a.headers, f.id, `user:${c.userId}`, "owner");
    await del(c.headers, f.id);
    expect(await trash(c.headers)).toEqual(["theirs.txt"]);
    expect(await trash(a.headers)).toEqual(["theirs.txt"]);
    await rpc(
      t.mesh.permission,
      t.mesh.permission.deleteGrant,
      { fileId: f.id, grantId: grant!.id },
      a.headers,
    );
    expect(await trash(c.headers)).toEqual([]);
    expect(await trash(a.headers)).toEqual(["theirs.txt"]);
  });
});

describe("versions", () => {
  it("lists every version newest first, paged, with the current one marked", async () => {
    const a = await t.mesh.newUser();
    let f: filev1.File | undefined;
    for (const v of ["v1", "v22", "v333"]) f = await t.upload(a.headers, "doc.txt", v);
    const page1 = await rpc(
      t.f,
      t.f.listFileVersions,
      { fileId: f!.id, pageSize: 2, pageToken: "" },
      a.headers,
    );
    const page2 = await rpc(
      t.f,
      t.f.listFileVersions,
      { fileId: f!.id, pageSize: 2, pageToken: page1.nextPageToken },
      a.headers,
    );
    const all = [...page1.versions, ...page2.versions];
    expect(all.map((v) => v.sizeBytes)).toEqual(["4", "3", "2"]);
    expect(all.map((v) => v.current)).toEqual([true, false, false]);
    expect(all[0]?.id).toBe(f!.currentVersionId);
    expect(all[0]?.creator).toBe(`user:${a.userId}`);
    expect(page2.nextPageToken).toBe("");
    const s = await t.mesh.newUser();
    expect(
      await failure(rpc(t.f, t.f.listFileVersions, { fileId: f!.id, pageSize: 0, pageToken: "" }, s.headers)),
    ).toMatchObject({
      code: status.NOT_FOUND,
    });
  });
});
