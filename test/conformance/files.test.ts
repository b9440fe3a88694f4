// REST conformance: the JSON file routes of docs/architecture.md §7 through the gateway (fs driver):
// status codes, JSON shapes and ErrorInfo reasons. Raw bodies: file-content.test.ts.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient, sha } from "./file-client.js";
import { reasonOf, startTarget, type Target } from "./target.js";

let t: Target;
beforeAll(async () => {
  t = await startTarget({ services: ["auth", "user", "permission", "file"] });
});
afterAll(() => t?.stop());

const { signup, call, raw, unexercised } = fileClient(() => t.base);
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe("file routes", () => {
  it("folders: create, get, list with paging, errors", async () => {
    const a = await signup();
    const made = await call("POST", "/v1/folders", a.auth, { name: "Docs" });
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({
      name: "Docs",
      kind: "FOLDER",
      state: "READY",
      ownerId: a.id,
      sizeBytes: "0",
    });
    expect(made.body).toMatchObject({
      id: expect.any(String),
      parentId: expect.any(String),
      etag: expect.any(String),
    });
    expect(made.body.createTime).toMatch(TIME);
    expect(made.body.updateTime).toMatch(TIME);
    const id = made.body.id;
    const got = await call("GET", `/v1/files/${id}`, a.auth);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(made.body);
    await call("POST", "/v1/folders", a.auth, { name: "Another" });
    const home = made.body.parentId;
    const page1 = await call("GET", `/v1/files?parentId=${home}&pageSize=1`, a.auth);
    expect(page1.status).toBe(200);
    expect(page1.body.files.map((f: { name: string }) => f.name)).toEqual(["Another"]);
    expect(page1.body.nextPageToken).toEqual(expect.any(String));
    const page2 = await call(
      "GET",
      `/v1/files?parentId=${home}&pageSize=1&pageToken=${encodeURIComponent(page1.body.nextPageToken)}`,
      a.auth,
    );
    expect(page2.body.files.map((f: { name: string }) => f.name)).toEqual(["Docs"]);
    expect(page2.body.nextPageToken).toBe("");
    const badToken = await call("GET", `/v1/files?parentId=${home}&pageToken=forged`, a.auth);
    expect([badToken.status, reasonOf(badToken.body)]).toEqual([400, "INVALID_PAGE_TOKEN"]);
    const dup = await call("POST", "/v1/folders", a.auth, { name: "Docs" });
    expect([dup.status, reasonOf(dup.body)]).toEqual([409, "NAME_CONFLICT"]);
    const bad = await call("POST", "/v1/folders", a.auth, { name: "../x" });
    expect([bad.status, reasonOf(bad.body)]).toEqual([400, "INVALID_NAME"]);
    const b = await signup();
    const hidden = await call("GET", `/v1/files/${id}`, b.auth);
    expect([hidden.status, reasonOf(hidden.body)]).toEqual([404, "FILE_NOT_FOUND"]);
    expect((await call("GET", `/v1/files/${id}`)).status).toBe(401);
  });

  it("update, copy and delete: etags (412), moves, home folder", async () => {
    const a = await signup();
    const made = await call("POST", "/v1/folders", a.auth, { name: "Old" });
    const id = made.body.id;
    const stale = await call("PATCH", `/v1/files/${id}?updateMask=name`, a.auth, {
      name: "New",
      etag: "stale",
    });
    expect(stale.status).toBe(412); // FAILED_PRECONDITION mapped by reason (Envoy: 400)
    expect(reasonOf(stale.body)).toBe("ETAG_MISMATCH");
    const renamed = await call("PATCH", `/v1/files/${id}?updateMask=name`, a.auth, {
      name: "New",
      etag: made.body.etag,
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, name: "New" });
    expect(renamed.body.etag).not.toBe(made.body.etag);
    const inner = await call("POST", "/v1/folders", a.auth, { name: "Inner", parentId: id });
    const loop = await call("PATCH", `/v1/files/${id}?updateMask=parentId`, a.auth, {
      parentId: inner.body.id,
    });
    expect([loop.status, reasonOf(loop.body)]).toEqual([400, "MOVE_INTO_ITSELF"]);
    const copy = await call("POST", `/v1/files/${id}:copy`, a.auth, { name: "Copy" });
    expect(copy.status).toBe(200);
    expect(copy.body).toMatchObject({ name: "Copy", kind: "FOLDER", parentId: made.body.parentId });
    const b = await signup();
    expect((await call("POST", `/v1/files/${id}:copy`, b.auth, { name: "Mine" })).status).toBe(404);
    const staleDelete = await call("DELETE", `/v1/files/${id}?etag=stale`, a.auth);
    expect([staleDelete.status, reasonOf(staleDelete.body)]).toEqual([412, "ETAG_MISMATCH"]);
    const home = await call("DELETE", `/v1/files/${made.body.parentId}`, a.auth);
    expect([home.status, reasonOf(home.body)]).toEqual([400, "HOME_FOLDER"]);
    const del = await call("DELETE", `/v1/files/${id}?etag=${renamed.body.etag}`, a.auth);
    expect(del.status).toBe(200);
    expect(del.body.file).toMatchObject({ id, trashTime: expect.stringMatching(TIME) });
  });

  it("trash: delete, list, restore, delete for good", async () => {
    const a = await signup();
    const f = await call("POST", "/v1/folders", a.auth, { name: "bin-me" });
    const child = await call("POST", "/v1/folders", a.auth, { name: "child", parentId: f.body.id });
    expect((await call("DELETE", `/v1/files/${f.body.id}`, a.auth)).status).toBe(200);
    const trash = await call("GET", "/v1/trash", a.auth);
    expect(trash.status).toBe(200);
    expect(trash.body.files.map((x: { id: string }) => x.id)).toEqual([f.body.id]);
    expect(trash.body.nextPageToken).toBe("");
    const withFolder = await call("POST", `/v1/files/${child.body.id}:restore`, a.auth, {});
    expect([withFolder.status, reasonOf(withFolder.body)]).toEqual([400, "TRASHED_WITH_FOLDER"]);
    const back = await call("POST", `/v1/files/${f.body.id}:restore`, a.auth, {});
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ id: f.body.id, name: "bin-me" });
    expect(back.body.trashTime ?? undefined).toBeUndefined();
    const gone = await call("DELETE", `/v1/files/${f.body.id}?permanent=true`, a.auth);
    expect(gone.status).toBe(200);
    expect(gone.body.file ?? null).toBeNull(); // no file after a permanent delete
    expect((await call("GET", `/v1/files/${f.body.id}`, a.auth)).status).toBe(404);
  });

  it("upload sessions: create, put parts, get, complete, cancel, limits", async () => {
    const a = await signup();
    const data = randomBytes(3000);
    const s = await call("POST", "/v1/uploads", a.auth, {
      name: "session.bin",
      sizeBytes: "3000",
      sha256: sha(data),
      partSizeBytes: "1000",
    });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({
      name: "session.bin",
      sizeBytes: "3000",
      partCount: 3,
      partSizeBytes: "1000",
      committedSizeBytes: "0",
      method: "UPLOAD_METHOD_PARTS",
      state: "UPLOAD_STATE_ACTIVE",
    });
    expect(s.body.expireTime).toMatch(TIME);
    const part = (n: number) => data.subarray((n - 1) * 1000, n * 1000);
    expect((await raw("PUT", `/v1/uploads/${s.body.id}/parts/1`, a.auth, part(1))).status).toBe(200);
    const early = await call("POST", `/v1/uploads/${s.body.id}:complete`, a.auth, {});
    expect([early.status, reasonOf(early.body)]).toEqual([400, "UPLOAD_INCOMPLETE"]);
    for (const n of [2, 3])
      expect((await raw("PUT", `/v1/uploads/${s.body.id}/parts/${n}`, a.auth, part(n))).status).toBe(200);
    const got = await call("GET", `/v1/uploads/${s.body.id}`, a.auth);
    expect(got.status).toBe(200);
    expect(got.body.committedSizeBytes).toBe("3000");
    expect(got.body.parts).toHaveLength(3);
    const refresh = await call("POST", `/v1/uploads/${s.body.id}:refreshUrls`, a.auth, {});
    expect([refresh.status, reasonOf(refresh.body)]).toEqual([400, "PRESIGN_UNSUPPORTED"]);
    const done = await call("POST", `/v1/uploads/${s.body.id}:complete`, a.auth, {});
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      name: "session.bin",
      kind: "FILE",
      sizeBytes: "3000",
      sha256: sha(data),
    });
    const other = await call("POST", "/v1/uploads", a.auth, { name: "dropped", sizeBytes: "10" });
    const cancelled = await call("DELETE", `/v1/uploads/${other.body.id}`, a.auth);
    expect(cancelled.status).toBe(200);
    expect((await call("GET", `/v1/uploads/${other.body.id}`, a.auth)).body.state).toBe(
      "UPLOAD_STATE_ABORTED",
    );
    const b = await signup();
    const foreign = await call("GET", `/v1/uploads/${s.body.id}`, b.auth);
    expect([foreign.status, reasonOf(foreign.body)]).toEqual([404, "UPLOAD_NOT_FOUND"]);
    const big = await call("POST", "/v1/uploads", a.auth, { name: "huge", sizeBytes: String(2 ** 50) });
    expect([big.status, reasonOf(big.body)]).toEqual([413, "UPLOAD_TOO_LARGE"]); // Envoy: 429
  });

  it("versions, usage and the download URL (fs: refused)", async () => {
    const a = await signup();
    const first = await raw("POST", "/v1/files:upload?name=v.bin", a.auth, Buffer.from("one"));
    const file = JSON.parse(first.bytes.toString());
    await raw("POST", "/v1/files:upload?name=v.bin", a.auth, Buffer.from("two!"));
    const versions = await call("GET", `/v1/files/${file.id}/versions`, a.auth);
    expect(versions.status).toBe(200);
    expect(versions.body.versions).toMatchObject([
      { fileId: file.id, sizeBytes: "4", current: true, creator: `user:${a.id}` },
      { fileId: file.id, sizeBytes: "3", current: false, sha256: sha(Buffer.from("one")) },
    ]);
    const usage = await call("GET", "/v1/usage", a.auth);
    expect(usage.status).toBe(200);
    expect(usage.body).toMatchObject({ usedBytes: "7", reservedBytes: "0", fileCount: "1" });
    expect(Number(usage.body.quotaBytes)).toBeGreaterThan(0);
    // Restore the older version: its content becomes the newest version (history kept).
    const older = versions.body.versions[1];
    const restored = await call("POST", `/v1/files/${file.id}/versions/${older.id}:restore`, a.auth, {
      requestId: "restore-1",
    });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ id: file.id, sizeBytes: "3", sha256: older.sha256 });
    const again = await call("POST", `/v1/files/${file.id}/versions/${older.id}:restore`, a.auth, {
      requestId: "restore-1",
    });
    expect(again.body.currentVersionId).toBe(restored.body.currentVersionId);
    const after = await call("GET", `/v1/files/${file.id}/versions`, a.auth);
    expect(
      after.body.versions.map((v: { sizeBytes: string; current: boolean }) => [v.sizeBytes, v.current]),
    ).toEqual([
      ["3", true],
      ["4", false],
      ["3", false],
    ]);
    const content = await raw("GET", `/v1/files/${file.id}/content`, a.auth);
    expect(content.bytes.toString()).toBe("one");
    const b = await signup();
    for (const [who, path, status, reason] of [
      [b.auth, `/v1/files/${file.id}/versions/${older.id}:restore`, 404, "FILE_NOT_FOUND"],
      [{}, `/v1/files/${file.id}/versions/${older.id}:restore`, 401, "MISSING_TOKEN"],
      [
        a.auth,
        `/v1/files/${file.id}/versions/00000000-0000-4000-8000-000000000000:restore`,
        404,
        "VERSION_NOT_FOUND",
      ],
    ] as const) {
      const r = await call("POST", path, who, {});
      expect([r.status, reasonOf(r.body)], path).toEqual([status, reason]);
    }
    const url = await call("GET", `/v1/files/${file.id}:downloadUrl`, a.auth);
    expect([url.status, reasonOf(url.body)]).toEqual([400, "PRESIGN_UNSUPPORTED"]);
    expect((await call("GET", "/v1/usage")).status).toBe(401);
  });

  it("share links: create, list, anonymous get, delete, errors", async () => {
    const a = await signup();
    const up = await raw("POST", "/v1/files:upload?name=shared.txt", a.auth, Buffer.from("via link"));
    const file = JSON.parse(up.bytes.toString());
    const link = await call("POST", `/v1/files/${file.id}/links`, a.auth, {
      role: "viewer",
      password: "pw",
      maxDownloads: 1,
    });
    expect(link.status).toBe(200);
    expect(link.body).toMatchObject({
      fileId: file.id,
      role: "viewer",
      hasPassword: true,
      maxDownloads: 1,
      downloads: 0,
    });
    expect(link.body.token).toEqual(expect.any(String));
    expect(link.body.password).toBe("");
    const listed = await call("GET", `/v1/files/${file.id}/links`, a.auth);
    expect(listed.body.links).toMatchObject([{ id: link.body.id, token: "" }]);
    const b = await signup();
    expect((await call("GET", `/v1/files/${file.id}/links`, b.auth)).status).toBe(404);
    const noPassword = await call("GET", `/v1/links/${link.body.token}`);
    expect([noPassword.status, reasonOf(noPassword.body)]).toEqual([403, "PASSWORD_REQUIRED"]);
    const wrong = await call("GET", `/v1/links/${link.body.token}?password=nope`);
    expect([wrong.status, reasonOf(wrong.body)]).toEqual([403, "WRONG_PASSWORD"]);
    const seen = await call("GET", `/v1/links/${link.body.token}?password=pw`);
    expect(seen.status).toBe(200);
    expect(seen.body.link).toMatchObject({ id: link.body.id, token: "" });
    expect(seen.body.file).toMatchObject({ id: file.id, name: "shared.txt", ownerId: "" });
    const unknown = await call("GET", "/v1/links/not-a-token");
    expect([unknown.status, reasonOf(unknown.body)]).toEqual([404, "LINK_NOT_FOUND"]);
    expect((await call("DELETE", `/v1/files/${file.id}/links/${link.body.id}`, a.auth)).status).toBe(200);
    expect((await call("GET", `/v1/links/${link.body.token}?password=pw`)).status).toBe(404);
  });

  it("exercises every JSON binding of FileService", () => {
    expect(unexercised((b) => !b.raw)).toEqual([]);
  });
});
