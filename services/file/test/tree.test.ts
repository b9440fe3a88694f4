// The tree against the real permission service: home folders, folders, get, paged lists,
// rename/move with etags, copy, name rules, and who may do what.
import { eventsv1, filev1 } from "@filemesh/contracts";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh();

type H = Record<string, string>;
const get = (h: H, fileId: string) => rpc(t.f, t.f.getFile, { fileId }, h).then((r) => r.file!);
const list = (h: H, parentId: string, pageSize = 0, pageToken = "", orderBy = 0) =>
  rpc(t.f, t.f.listFiles, { parentId, pageSize, pageToken, orderBy }, h);
const update = (h: H, fileId: string, file: Partial<filev1.File>, updateMask?: string[]) =>
  rpc(t.f, t.f.updateFile, { fileId, file: filev1.File.fromPartial(file), updateMask }, h).then(
    (r) => r.file!,
  );

describe("home folder and folders", () => {
  it("creates the home folder on first use; EnsureHomeFolder returns the same one", async () => {
    const a = await t.mesh.newUser();
    const made = await t.folder(a.headers, "Docs");
    expect(made).toMatchObject({ name: "Docs", kind: filev1.FileKind.FOLDER, state: filev1.FileState.READY });
    expect(made.ownerId).toBe(a.userId);
    expect(made.etag).not.toBe("");
    const home = await get(a.headers, made.parentId);
    expect(home).toMatchObject({ parentId: "", kind: filev1.FileKind.FOLDER, ownerId: a.userId });
    const ensured = await rpc(t.f, t.f.ensureHomeFolder, { userId: a.userId }, t.mesh.serviceHeaders("user"));
    expect(ensured.folder?.id).toBe(home.id);
    expect((await list(a.headers, "")).files.map((f) => f.id)).toEqual([made.id]);
    // Only the user and processor services may call it.
    expect(await failure(rpc(t.f, t.f.ensureHomeFolder, { userId: a.userId }, a.headers))).toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    // One home per user, held by the database itself (the partial unique index files_home_of_idx).
    const second = t.db.query(
      `INSERT INTO files.files (id, owner_id, parent_id, home_of, kind, name, state, etag)
       VALUES (gen_random_uuid(), $1, NULL, $1, 2, 'Home', 1, 'x')`,
      [a.userId],
    );
    await expect(second).rejects.toMatchObject({ code: "23505", constraint: "files_home_of_idx" });
  });

  it("refuses a duplicate name in one folder, and hostile names anywhere", async () => {
    const a = await t.mesh.newUser();
    await t.folder(a.headers, "same");
    expect(await failure(t.folder(a.headers, "same"))).toMatchObject({
      code: status.ALREADY_EXISTS,
      reason: "NAME_CONFLICT",
    });
    const hostile = [
      "",
      "   ",
      ".",
      "..",
      "../etc",
      "..\\win",
      "a/b",
      "/abs",
      "C:\\x",
      "nul\u0000byte",
      "line\nbreak",
      "bidi\u202ecod.exe",
      "CON",
      "lpt1.txt",
      "x".repeat(256),
      "trailing.",
    ];
    for (const name of hostile) {
      expect(await failure(t.folder(a.headers, name)), JSON.stringify(name)).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason: "INVALID_NAME",
      });
    }
    // Encoded traversal is just a name: stored as given, never decoded or used as a path.
    expect((await t.folder(a.headers, "..%2F..%2Fetc")).name).toBe("..%2F..%2Fetc");
    expect((await t.folder(a.headers, "  Ünïcødé 名前  ")).name).toBe("Ünïcødé 名前");
  });

  it("answers one request_id with one folder", async () => {
    const a = await t.mesh.newUser();
    const rid = uniqueId("rid");
    const made = await Promise.all([1, 2, 3].map(() => t.folder(a.headers, "once", "", rid)));
    expect(new Set(made.map((f) => f.id)).size).toBe(1);
    expect(await failure(t.folder(a.headers, "other", "", rid))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "REQUEST_ID_REUSED",
    });
  });
});

describe("listing", () => {
  it("pages children with folders first by name, or newest first, with tamper-proof tokens", async () => {
    const a = await t.mesh.newUser();
    const root = await t.folder(a.headers, "root");
    for (const n of ["b", "a", "c", "e", "d"]) await t.folder(a.headers, n, root.id);
    const names: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await list(a.headers, root.id, 2, token);
      names.push(...page.files.map((f) => f.name));
      token = page.nextPageToken;
      pages++;
    } while (token);
    expect(names).toEqual(["a", "b", "c", "d", "e"]);
    expect(pages).toBe(3);
    const byTime = await list(a.headers, root.id, 10, "", filev1.FileOrder.FILE_ORDER_UPDATE_TIME);
    expect(byTime.files.map((f) => f.name)).toEqual(["d", "e", "c", "a", "b"]);
    const first = await list(a.headers, root.id, 2);
    const forged = `${first.nextPageToken.slice(0, -2)}xx`;
    expect(await failure(list(a.headers, root.id, 2, forged))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_PAGE_TOKEN",
    });
    const other = await t.folder(a.headers, "other");
    expect(await failure(list(a.headers, other.id, 2, first.nextPageToken))).toMatchObject({
      reason: "INVALID_PAGE_TOKEN",
    });
  });
});

describe("access", () => {
  it("hides files from strangers exactly like missing ones; viewers read, editors write", async () => {
    const [a, b, c, s] = [
      await t.mesh.newUser(),
      await t.mesh.newUser(),
      await t.mesh.newUser(),
      await t.mesh.newUser(),
    ];
    const shared = await t.folder(a.headers, "shared");
    const missing = "00000000-0000-4000-8000-000000000000";
    for (const id of [shared.id, missing, "not-a-uuid"]) {
      expect(await failure(get(s.headers, id))).toMatchObject({
        code: status.NOT_FOUND,
        reason: "FILE_NOT_FOUND",
      });
      expect(await failure(list(s.headers, id))).toMatchObject({
        code: status.NOT_FOUND,
        reason: "FILE_NOT_FOUND",
      });
      expect(await failure(t.folder(s.headers, "x", id))).toMatchObject({ code: status.NOT_FOUND });
    }
    await t.grant(a.headers, shared.id, `user:${b.userId}`, "viewer");
    await t.grant(a.headers, shared.id, `user:${c.userId}`, "editor");
    expect((await get(b.headers, shared.id)).id).toBe(shared.id);
    expect(await failure(t.folder(b.headers, "x", shared.id))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "WRITE_DENIED",
    });
    const byEditor = await t.folder(c.headers, "from c", shared.id);
    // Inherited: the viewer sees what the editor made inside.
    expect((await list(b.headers, shared.id)).files.map((f) => f.id)).toEqual([byEditor.id]);
    expect(await failure(update(b.headers, byEditor.id, { name: "renamed" }, ["name"]))).toMatchObject({
      code: status.PERMISSION_DENIED,
    });
    expect(await failure(get({}, shared.id))).toMatchObject({ code: status.UNAUTHENTICATED });
  });
});

describe("rename, move, copy", () => {
  it("renames conditionally on the etag", async () => {
    const a = await t.mesh.newUser();
    const f = await t.folder(a.headers, "old");
    expect(await failure(update(a.headers, f.id, { name: "new", etag: "stale" }, ["name"]))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "ETAG_MISMATCH",
    });
    const renamed = await update(a.headers, f.id, { name: "new", etag: f.etag }, ["name"]);
    expect(renamed.name).toBe("new");
    expect(renamed.etag).not.toBe(f.etag);
    expect(await failure(update(a.headers, f.id, { name: "newer", etag: f.etag }, ["name"]))).toMatchObject({
      reason: "ETAG_MISMATCH",
    });
    expect(await failure(update(a.headers, f.id, { ownerId: "x" }, ["owner_id"]))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_UPDATE_MASK",
    });
    expect(await failure(update(a.headers, f.parentId, { name: "x" }, ["name"]))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "HOME_FOLDER",
    });
  });

  it("moves, refuses a folder into itself or below, and reports a name clash", async () => {
    const a = await t.mesh.newUser();
    const top = await t.folder(a.headers, "top");
    const mid = await t.folder(a.headers, "mid", top.id);
    const low = await t.folder(a.headers, "low", mid.id);
    const other = await t.folder(a.headers, "other");
    for (const target of [top.id, mid.id, low.id]) {
      expect(await failure(update(a.headers, top.id, { parentId: target }, ["parent_id"]))).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason: "MOVE_INTO_ITSELF",
      });
    }
    const moved = await update(a.headers, mid.id, { parentId: other.id }, ["parent_id"]);
    expect(moved.parentId).toBe(other.id);
    expect((await list(a.headers, other.id)).files.map((f) => f.name)).toEqual(["mid"]);
    await t.folder(a.headers, "mid", top.id);
    expect(await failure(update(a.headers, mid.id, { parentId: top.id }, ["parent_id"]))).toMatchObject({
      code: status.ALREADY_EXISTS,
      reason: "NAME_CONFLICT",
    });
    const { rows } = await t.db.query(
      "SELECT payload FROM files.outbox WHERE subject = 'filemesh.files.file_moved' ORDER BY seq DESC LIMIT 20",
    );
    const events = rows.map((r) => eventsv1.FileMoved.decode(r.payload));
    expect(events.find((e) => e.fileId === mid.id)).toMatchObject({
      fromParentId: top.id,
      toParentId: other.id,
    });
    // Permissions follow the move: a viewer of `other` now sees `low` through `mid`.
    const b = await t.mesh.newUser();
    await t.grant(a.headers, other.id, `user:${b.userId}`, "viewer");
    expect((await get(b.headers, low.id)).id).toBe(low.id);
  });

  it("copies a folder tree as the caller's own", async () => {
    const [a, c] = await Promise.all([t.mesh.newUser(), t.mesh.newUser()]);
    const src = await t.folder(a.headers, "src");
    await t.folder(a.headers, "inner", (await t.folder(a.headers, "child", src.id)).id);
    await t.grant(a.headers, src.id, `user:${c.userId}`, "viewer");
    const home = await rpc(t.f, t.f.ensureHomeFolder, { userId: c.userId }, t.mesh.serviceHeaders("user"));
    const copyReq = { fileId: src.id, parentId: home.folder!.id, name: "mine", requestId: "" };
    const copy = (await rpc(t.f, t.f.copyFile, copyReq, c.headers)).file!;
    expect(copy).toMatchObject({ name: "mine", ownerId: c.userId });
    const child = (await list(c.headers, copy.id)).files[0]!;
    expect(child).toMatchObject({ name: "child", ownerId: c.userId });
    expect((await list(c.headers, child.id)).files.map((f) => f.name)).toEqual(["inner"]);
    expect(await failure(get(a.headers, copy.id))).toMatchObject({ code: status.NOT_FOUND });
    expect(
      await failure(
        rpc(t.f, t.f.copyFile, { fileId: src.id, parentId: child.id, name: "", requestId: "" }, a.headers),
      ),
    ).toMatchObject({ code: status.NOT_FOUND });
    expect(
      await failure(
        rpc(t.f, t.f.copyFile, { fileId: src.id, parentId: src.id, name: "", requestId: "" }, a.headers),
      ),
    ).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "MOVE_INTO_ITSELF" });
  });
});
