// Share links: who may create, list and delete them; the anonymous routes honour expiry,
// password and download limit; a deleted link or a trashed file ends access; the permission
// service decides whether `link:<id>` may read (a grant revoked or expired there ends access,
// the service down is UNAVAILABLE — that test stops it, so it runs last).
import { filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { collect, metadataOf, rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh();

const shared = (token: string, password = "") => rpc(t.f, t.f.getSharedLink, { token, password });
const sharedContent = async (token: string, password = "", offset = "0") => {
  const msgs = await collect(
    t.f.getSharedLinkContent(
      filev1.GetSharedLinkContentRequest.fromPartial({ token, password, offset }),
      metadataOf({}),
    ),
  );
  return Buffer.concat(msgs.map((m) => m.data)).toString();
};

describe("share links", () => {
  it("honour password and download limit for anonymous holders", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "public.txt", "hello link");
    const link = await t.createLink(a.headers, f.id, {
      role: "viewer",
      password: "open sesame",
      maxDownloads: 2,
      expireTime: new Date(Date.now() + 3_600_000),
    });
    expect(link).toMatchObject({
      role: "viewer",
      hasPassword: true,
      maxDownloads: 2,
      downloads: 0,
      fileId: f.id,
    });
    expect(link.token.length).toBeGreaterThanOrEqual(43);
    expect(link.password).toBe("");
    const listed = (
      await rpc(t.f, t.f.listShareLinks, { fileId: f.id, pageSize: 0, pageToken: "" }, a.headers)
    ).links;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: link.id, token: "", hasPassword: true });

    expect(await failure(shared(link.token))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "PASSWORD_REQUIRED",
    });
    expect(await failure(shared(link.token, "wrong"))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "WRONG_PASSWORD",
    });
    const seen = await shared(link.token, "open sesame");
    expect(seen.file).toMatchObject({ id: f.id, name: "public.txt", ownerId: "" });
    expect(await failure(sharedContent(link.token))).toMatchObject({ reason: "PASSWORD_REQUIRED" });
    expect(await sharedContent(link.token, "open sesame")).toBe("hello link");
    expect(await sharedContent(link.token, "open sesame", "6")).toBe("link"); // a range is a download too
    expect(await failure(sharedContent(link.token, "open sesame"))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      reason: "DOWNLOAD_LIMIT_REACHED",
    });
    expect((await shared(link.token, "open sesame")).link?.downloads).toBe(2);
    expect(await failure(shared("not-a-token"))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "LINK_NOT_FOUND",
    });
  });

  it("stop working when expired, deleted, or their file is trashed", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "temp.txt", "temporary");
    const l1 = await t.createLink(a.headers, f.id);
    const l2 = await t.createLink(a.headers, f.id, { role: "editor" });
    const l3 = await t.createLink(a.headers, f.id);
    expect(await sharedContent(l1.token)).toBe("temporary");
    await t.db.query("UPDATE files.links SET expire_time = now() - interval '1 second' WHERE id = $1", [
      l1.id,
    ]);
    expect(await failure(shared(l1.token))).toMatchObject({ code: status.NOT_FOUND, reason: "LINK_EXPIRED" });
    await rpc(t.f, t.f.deleteShareLink, { fileId: f.id, linkId: l2.id }, a.headers);
    expect(await failure(shared(l2.token))).toMatchObject({ reason: "LINK_NOT_FOUND" });
    expect(
      await failure(rpc(t.f, t.f.deleteShareLink, { fileId: f.id, linkId: l2.id }, a.headers)),
    ).toMatchObject({
      code: status.NOT_FOUND,
      reason: "LINK_NOT_FOUND",
    });
    await rpc(t.f, t.f.deleteFile, { fileId: f.id, permanent: false, etag: "" }, a.headers);
    expect(await failure(shared(l3.token))).toMatchObject({ reason: "LINK_NOT_FOUND" });
  });

  it("a retried create (same request_id, its answer lost) returns one link and the token that opens it", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "retry.txt", "retried link");
    const req = filev1.CreateShareLinkRequest.fromPartial({
      fileId: f.id,
      requestId: "5d1c3f0e-8c2a-4c39-9a57-0e1f2b3c4d5e",
      link: { role: "viewer" },
    });
    const first = (await rpc(t.f, t.f.createShareLink, req, a.headers)).link!;
    const again = (await rpc(t.f, t.f.createShareLink, req, a.headers)).link!;
    expect(again.id).toBe(first.id);
    expect(again.token).not.toBe("");
    expect(again.token).toBe(first.token);
    expect(await sharedContent(again.token)).toBe("retried link");
    const links = await rpc(
      t.f,
      t.f.listShareLinks,
      { fileId: f.id, pageSize: 10, pageToken: "" },
      a.headers,
    );
    expect(links.links.map((l) => l.id)).toEqual([first.id]);
    // The same request_id elsewhere (another user's file) is another link with another token.
    const b = await t.mesh.newUser();
    const g = await t.upload(b.headers, "other.txt", "other");
    const theirs = (await rpc(t.f, t.f.createShareLink, { ...req, fileId: g.id }, b.headers)).link!;
    expect(theirs.token).not.toBe(first.token);
    expect(await sharedContent(theirs.token)).toBe("other");
  });

  it("need share permission: editors may, viewers and strangers may not; bad settings are refused", async () => {
    const [a, e, v, s] = [
      await t.mesh.newUser(),
      await t.mesh.newUser(),
      await t.mesh.newUser(),
      await t.mesh.newUser(),
    ];
    const f = await t.upload(a.headers, "team.txt", "team");
    await t.grant(a.headers, f.id, `user:${e.userId}`, "editor");
    await t.grant(a.headers, f.id, `user:${v.userId}`, "viewer");
    expect((await t.createLink(e.headers, f.id)).role).toBe("viewer");
    expect(await failure(t.createLink(v.headers, f.id))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "SHARE_DENIED",
    });
    expect(await failure(t.createLink(s.headers, f.id))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "FILE_NOT_FOUND",
    });
    expect(
      await failure(rpc(t.f, t.f.listShareLinks, { fileId: f.id, pageSize: 0, pageToken: "" }, v.headers)),
    ).toMatchObject({ code: status.PERMISSION_DENIED });
    for (const bad of [
      { role: "owner" },
      { expireTime: new Date(Date.now() - 1000) },
      { maxDownloads: -1 },
    ]) {
      expect(await failure(t.createLink(a.headers, f.id, bad))).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason: "INVALID_LINK",
      });
    }
  });
});

const linkRow = async (id: string) =>
  (await t.db.query("SELECT downloads, acl_revision FROM files.links WHERE id = $1", [id])).rows[0] as
    | { downloads: number; acl_revision: string }
    | undefined;
const until = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now()) + 50));

describe("share links and the permission service", () => {
  it("deny when the link's grant is revoked or expired there, though the link row still allows", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "decided.txt", "decided elsewhere");
    const revoked = await t.createLink(a.headers, f.id);
    const expireTime = new Date(Date.now() + 1500);
    const outlived = await t.createLink(a.headers, f.id, { expireTime });
    const expired = await t.createLink(a.headers, f.id, { expireTime });
    // The tuple's revision is kept with the link (read-your-writes on the next replica).
    expect(Number((await linkRow(revoked.id))?.acl_revision)).toBeGreaterThan(0);
    for (const l of [revoked, outlived, expired]) {
      expect((await shared(l.token)).file).toMatchObject({ id: f.id, name: "decided.txt" });
    }
    expect(await sharedContent(revoked.token)).toBe("decided elsewhere");

    // An owner removes the link's grant in the permission service (not through the file service).
    const { grants } = await rpc(
      t.mesh.permission,
      t.mesh.permission.listGrants,
      { fileId: f.id, pageSize: 0, pageToken: "", minRevision: "" },
      a.headers,
    );
    const grantId = grants.find((g) => g.subject === `link:${revoked.id}`)?.id ?? "";
    expect(grantId).not.toBe("");
    await rpc(t.mesh.permission, t.mesh.permission.deleteGrant, { fileId: f.id, grantId }, a.headers);
    expect(await failure(shared(revoked.token))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "LINK_NOT_FOUND",
    });
    expect(await failure(sharedContent(revoked.token))).toMatchObject({ reason: "LINK_NOT_FOUND" });
    expect(await linkRow(revoked.id)).toMatchObject({ downloads: 1 }); // the row is there; no download counted

    // One link's row is extended past its grant's expiry: the grant still ends it.
    await t.db.query("UPDATE files.links SET expire_time = now() + interval '1 hour' WHERE id = $1", [
      outlived.id,
    ]);
    await until(expireTime.getTime());
    expect(await failure(shared(outlived.token))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "LINK_NOT_FOUND",
    });
    expect(await failure(sharedContent(outlived.token))).toMatchObject({ reason: "LINK_NOT_FOUND" });
    expect(await failure(shared(expired.token))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "LINK_EXPIRED",
    });
  });

  it("show a linked folder (the grant covers it directly) but serve no content for it", async () => {
    const a = await t.mesh.newUser();
    const folder = await t.folder(a.headers, "linked");
    const link = await t.createLink(a.headers, folder.id);
    expect((await shared(link.token)).file).toMatchObject({
      id: folder.id,
      kind: filev1.FileKind.FOLDER,
      ownerId: "",
    });
    expect(await failure(sharedContent(link.token))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "NOT_A_FILE",
    });
  });

  // Last in this file: it stops the permission service.
  it("answer UNAVAILABLE, never an allow and never a counted download, with the permission service down", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "down.txt", "nobody decides");
    const link = await t.createLink(a.headers, f.id, { password: "pw", maxDownloads: 1 });
    expect((await shared(link.token, "pw")).file?.id).toBe(f.id);
    await t.mesh.runtimes.permission[0]!.shutdown("test: permission down");
    expect(await failure(shared(link.token, "pw"))).toMatchObject({
      code: status.UNAVAILABLE,
      reason: "PERMISSION_UNAVAILABLE",
    });
    expect(await failure(sharedContent(link.token, "pw"))).toMatchObject({
      code: status.UNAVAILABLE,
      reason: "PERMISSION_UNAVAILABLE",
    });
    expect(await linkRow(link.id)).toMatchObject({ downloads: 0 });
    // What the link row alone decides is still answered (before the permission service is asked).
    expect(await failure(shared(link.token, "wrong"))).toMatchObject({ reason: "WRONG_PASSWORD" });
    expect(await failure(shared("not-a-token"))).toMatchObject({ reason: "LINK_NOT_FOUND" });
  });
});
