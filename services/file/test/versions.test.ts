// RestoreFileVersion (an older version's bytes become the newest version, once per request_id,
// counted against the quota, refused without write) and GetFileThumbnail (the processor's
// thumbnail of a version, only to readers).
import { Readable } from "node:stream";
import { eventsv1, filev1 } from "@filemesh/contracts";
import { createFsStore, thumbnailKey } from "@filemesh/kit/blob";
import { failure } from "@filemesh/kit/testing";
import { type Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { collect, metadataOf, rpc, useFileMesh } from "./start-file.js";

const QUOTA = 64 * 1024;
const t = useFileMesh({ env: { DEFAULT_QUOTA_BYTES: String(QUOTA) } });
type H = Record<string, string>;

const restore = (h: H, fileId: string, versionId: string, requestId = "") =>
  rpc(t.f, t.f.restoreFileVersion, { fileId, versionId, requestId }, h).then((r) => r.file!);
const versions = async (h: H, fileId: string) =>
  (await rpc(t.f, t.f.listFileVersions, { fileId, pageSize: 0, pageToken: "" }, h)).versions;
const content = async (h: H, fileId: string) =>
  Buffer.concat(
    (
      await collect(t.f.getFileContent(filev1.GetFileContentRequest.fromPartial({ fileId }), metadataOf(h)))
    ).map((m) => m.data),
  ).toString();
const usage = async (h: H) => (await rpc(t.f, t.f.getUsage, {}, h)).usage!;

/** Two versions of v.txt: "one" (older) and "two-two" (current). */
async function twoVersions(h: H, parentId = "") {
  const first = await t.upload(h, "v.txt", "one", parentId);
  const second = await t.upload(h, "v.txt", "two-two", parentId);
  expect(second.id).toBe(first.id);
  return { file: second, old: first.currentVersionId, current: second.currentVersionId };
}

describe("RestoreFileVersion", () => {
  it("makes a copy of the old content the newest version, keeps history, counts the bytes", async () => {
    const a = await t.mesh.newUser();
    const { file, old, current } = await twoVersions(a.headers);
    expect((await usage(a.headers)).usedBytes).toBe("10");
    const restored = await restore(a.headers, file.id, old, "r-1");
    expect(restored).toMatchObject({
      id: file.id,
      name: "v.txt",
      sizeBytes: "3",
      state: filev1.FileState.READY,
    });
    expect(restored.currentVersionId).not.toBe(old);
    expect(restored.currentVersionId).not.toBe(current);
    expect(await content(a.headers, file.id)).toBe("one");
    const list = await versions(a.headers, file.id);
    expect(list.map((v) => [v.id, v.sizeBytes, v.current])).toEqual([
      [restored.currentVersionId, "3", true],
      [current, "7", false],
      [old, "3", false],
    ]);
    expect(list[0]!.sha256).toBe(list[2]!.sha256);
    // Its own object in the store: deleting the old version's object later cannot take it along.
    const { rows } = await t.db.query<{ object_key: string }>(
      "SELECT object_key FROM files.versions WHERE id = ANY($1::uuid[]) ORDER BY create_time",
      [[old, restored.currentVersionId]],
    );
    expect(new Set(rows.map((r) => r.object_key)).size).toBe(2);
    expect(await usage(a.headers)).toMatchObject({ usedBytes: "13", reservedBytes: "0", fileCount: "1" });
    // A retry with the same request_id restores once; another id restores again.
    const again = await restore(a.headers, file.id, old, "r-1");
    expect(again.currentVersionId).toBe(restored.currentVersionId);
    expect(await versions(a.headers, file.id)).toHaveLength(3);
    expect(await usage(a.headers)).toMatchObject({ usedBytes: "13", reservedBytes: "0" });
    // Restoring the current version changes nothing.
    const same = await restore(a.headers, file.id, restored.currentVersionId);
    expect(same.currentVersionId).toBe(restored.currentVersionId);
    expect(await versions(a.headers, file.id)).toHaveLength(3);
    // The event the processor and the search index follow.
    const { rows: events } = await t.db.query(
      "SELECT payload FROM files.outbox WHERE subject = 'filemesh.files.version_added' ORDER BY seq DESC LIMIT 50",
    );
    const added = events.map((r) => eventsv1.VersionAdded.decode(r.payload));
    expect(added.filter((e) => e.versionId === restored.currentVersionId)).toHaveLength(1);
  });

  it("refuses bad input, other files' versions, the same request_id for another version", async () => {
    const a = await t.mesh.newUser();
    const { file, old } = await twoVersions(a.headers);
    const other = await t.upload(a.headers, "other.txt", "x");
    await restore(a.headers, file.id, old, "r-2");
    const cases: [() => Promise<unknown>, number, string][] = [
      [() => restore(a.headers, file.id, ""), status.INVALID_ARGUMENT, "VERSION_REQUIRED"],
      [() => restore(a.headers, file.id, "not-a-uuid"), status.NOT_FOUND, "VERSION_NOT_FOUND"],
      [() => restore(a.headers, file.id, other.currentVersionId), status.NOT_FOUND, "VERSION_NOT_FOUND"],
      [() => restore(a.headers, other.id, old), status.NOT_FOUND, "VERSION_NOT_FOUND"],
      [
        () => restore(a.headers, "00000000-0000-4000-8000-000000000000", old),
        status.NOT_FOUND,
        "FILE_NOT_FOUND",
      ],
      [
        () => restore(a.headers, file.id, file.currentVersionId, "r-2"),
        status.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
      ],
      [() => restore({}, file.id, old), status.UNAUTHENTICATED, "MISSING_TOKEN"],
    ];
    for (const [call, code, reason] of cases) {
      expect(await failure(call()), reason).toMatchObject({ code, reason });
    }
    expect(await versions(a.headers, file.id)).toHaveLength(3);
    expect((await usage(a.headers)).reservedBytes).toBe("0");
  });

  it("needs write on the file: an editor of the file alone may, a viewer or stranger may not", async () => {
    const [a, editor, viewer, stranger] = [
      await t.mesh.newUser(),
      await t.mesh.newUser(),
      await t.mesh.newUser(),
      await t.mesh.newUser(),
    ];
    const dir = await t.folder(a.headers, "shared");
    const { file, old } = await twoVersions(a.headers, dir.id);
    await t.grant(a.headers, file.id, `user:${editor.userId}`, "editor");
    await t.grant(a.headers, file.id, `user:${viewer.userId}`, "viewer");
    await waitUntil(() => rpc(t.f, t.f.getFile, { fileId: file.id }, viewer.headers));
    await waitUntil(() => rpc(t.f, t.f.getFile, { fileId: file.id }, editor.headers));
    expect(await failure(restore(viewer.headers, file.id, old))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "WRITE_DENIED",
    });
    expect(await failure(restore(stranger.headers, file.id, old))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect(await versions(a.headers, file.id)).toHaveLength(2);
    // The editor's grant is on the file, not on its folder: the restore checks the file.
    const restored = await restore(editor.headers, file.id, old);
    expect(await content(a.headers, restored.id)).toBe("one");
    expect(restored.ownerId).toBe(a.userId);
  });

  it("over quota: QUOTA_EXCEEDED, nothing copied, nothing reserved", async () => {
    const a = await t.mesh.newUser();
    const first = await t.upload(a.headers, "big.bin", Buffer.alloc(30 * 1024, 1));
    const second = await t.upload(a.headers, "big.bin", Buffer.alloc(30 * 1024, 2));
    const before = await usage(a.headers);
    expect(await failure(restore(a.headers, first.id, first.currentVersionId))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      reason: "QUOTA_EXCEEDED",
    });
    expect(await usage(a.headers)).toEqual(before);
    expect(await versions(a.headers, first.id)).toHaveLength(2);
    expect((await rpc(t.f, t.f.getFile, { fileId: first.id }, a.headers)).file?.currentVersionId).toBe(
      second.currentVersionId,
    );
  });

  it("a file in the trash is not found", async () => {
    const a = await t.mesh.newUser();
    const { file, old } = await twoVersions(a.headers);
    await rpc(t.f, t.f.deleteFile, { fileId: file.id, permanent: false, etag: "" }, a.headers);
    expect(await failure(restore(a.headers, file.id, old))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
  });
});

describe("GetFileThumbnail", () => {
  const thumbnail = async (h: H, fileId: string, versionId = "") => {
    const stream = t.f.getFileThumbnail({ fileId, versionId }, metadataOf(h));
    const md = new Promise<Metadata>((resolve) => stream.on("metadata", resolve));
    const msgs = await collect(stream);
    const m = await md;
    return {
      bytes: Buffer.concat(msgs.map((x) => x.data)),
      contentType: msgs[0]?.contentType,
      header: (k: string) => m.get(k),
    };
  };

  it("serves the processor's thumbnail to readers only, and says when there is none", async () => {
    const [a, stranger] = [await t.mesh.newUser(), await t.mesh.newUser()];
    const f = await t.upload(a.headers, "pic.png", "not really a png");
    expect(await failure(thumbnail(a.headers, f.id))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "THUMBNAIL_NOT_FOUND",
    });
    // What the processor does: the thumbnail beside the object, then has_thumbnail on the file.
    const { rows } = await t.db.query<{ object_key: string }>(
      "SELECT object_key FROM files.versions WHERE id = $1",
      [f.currentVersionId],
    );
    const webp = Buffer.from("RIFF\x10\x00\x00\x00WEBPVP8 fake", "latin1");
    await createFsStore(t.blobDir).put(thumbnailKey(rows[0]!.object_key), Readable.from([webp]));
    // Files here are READY on commit: the processor's SetFileState(READY, thumbnail) still sets
    // the flag (and only that).
    const decided = await rpc(
      t.f,
      t.f.setFileState,
      filev1.SetFileStateRequest.fromPartial({
        fileId: f.id,
        versionId: f.currentVersionId,
        state: filev1.FileState.READY,
        hasThumbnail: true,
        eventId: `thumb-${f.id}`,
      }),
      t.mesh.serviceHeaders("processor"),
    );
    expect(decided.file).toMatchObject({ state: filev1.FileState.READY, hasThumbnail: true });
    const got = await thumbnail(a.headers, f.id);
    expect(got.bytes).toEqual(webp);
    expect(got.contentType).toBe("image/webp");
    expect(got.header("x-content-length")).toEqual([String(webp.length)]);
    expect(got.header("x-content-type-options")).toEqual(["nosniff"]);
    expect(String(got.header("content-disposition")[0])).toMatch(
      /^attachment; filename="pic\.png\.thumbnail\.webp"/,
    );
    expect((await thumbnail(a.headers, f.id, f.currentVersionId)).bytes).toEqual(webp);
    for (const [h, code, reason] of [
      [stranger.headers, status.NOT_FOUND, "FILE_NOT_FOUND"],
      [{}, status.UNAUTHENTICATED, "MISSING_TOKEN"],
    ] as const) {
      expect(await failure(thumbnail(h, f.id))).toMatchObject({ code, reason });
    }
    // A folder has none; a newer version has its own (none yet).
    const dir = await t.folder(a.headers, "d");
    expect(await failure(thumbnail(a.headers, dir.id))).toMatchObject({ reason: "NOT_A_FILE" });
    const newer = await t.upload(a.headers, "pic.png", "another");
    console.log(
      "DBG",
      f.currentVersionId,
      newer.currentVersionId,
      (await t.db.query("SELECT id, object_key, state FROM files.versions WHERE file_id = $1", [f.id])).rows,
      rows[0],
    );
    expect(await failure(thumbnail(a.headers, newer.id))).toMatchObject({ reason: "THUMBNAIL_NOT_FOUND" });
    expect((await thumbnail(a.headers, f.id, f.currentVersionId)).bytes).toEqual(webp);
  });
});

async function waitUntil(fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (
      await fn().then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("never became true");
}
