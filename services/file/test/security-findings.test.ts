// Findings of the security review (docs/security.md) fixed in the file service, on the real
// services (auth, permission, user, file; fs driver). The file service has a database of its
// own, so the janitor's PurgeTrash acts on this test's rows only.
// F1 — a file or folder deleted for good (DeleteFile permanent, PurgeTrash) takes every tuple
//      naming it or anything below it along: grants to users, groups and links included.
// F4 — at most UPLOAD_SESSIONS_PER_USER open upload sessions per user, race-free.
import { randomBytes } from "node:crypto";
import { filev1, permissionv1 } from "@filemesh/contracts";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { rpc, send, useFileMesh } from "./start-file.js";

type H = Record<string, string>;
const MAX_SESSIONS = 4;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const fm = useFileMesh({ ownDatabase: true, env: { UPLOAD_SESSIONS_PER_USER: String(MAX_SESSIONS) } });

const accessible = async (h: H) =>
  (
    await rpc(
      fm.mesh.permission,
      fm.mesh.permission.listAccessible,
      permissionv1.ListAccessibleRequest.fromPartial({ pageSize: 1000 }),
      h,
    )
  ).resources.map((r) => r.resource);
/** Tuples in the permission service's table that name any of `ids` (as object or subject). */
const tuplesNaming = async (ids: string[]) =>
  (
    await fm.sharedDb.query(
      "SELECT 1 FROM acl.tuples WHERE object = ANY($1::text[]) OR subject = ANY($1::text[])",
      [ids.map((id) => `file:${id}`)],
    )
  ).rowCount;

describe("F1: deleted for good, gone from every list", () => {
  it("a folder deleted for good takes the grants on everything below it along (users, groups, links)", async () => {
    const [alice, bob, carol] = [await fm.mesh.newUser(), await fm.mesh.newUser(), await fm.mesh.newUser()];
    const top = await fm.folder(alice.headers, uniqueId("top"));
    const sub = await fm.folder(alice.headers, "sub", top.id);
    const x = await fm.upload(alice.headers, "x.bin", randomBytes(100), sub.id);
    const group = (
      await rpc(
        fm.mesh.user,
        fm.mesh.user.createGroup,
        { group: { name: "team" } as never, requestId: "" },
        alice.headers,
      )
    ).group!.id;
    await rpc(
      fm.mesh.user,
      fm.mesh.user.addGroupMember,
      { groupId: group, member: `user:${carol.userId}`, role: "member", requestId: "" },
      alice.headers,
    );
    await fm.grant(alice.headers, x.id, `user:${bob.userId}`, "viewer");
    await fm.grant(alice.headers, top.id, `group:${group}`, "editor");
    await rpc(
      fm.f,
      fm.f.createShareLink,
      filev1.CreateShareLinkRequest.fromPartial({ fileId: x.id, link: { role: "viewer" } }),
      alice.headers,
    );
    expect(await accessible(bob.headers)).toContain(`file:${x.id}`);
    expect(await accessible(carol.headers)).toContain(`file:${top.id}`);

    await rpc(
      fm.f,
      fm.f.deleteFile,
      filev1.DeleteFileRequest.fromPartial({ fileId: top.id, permanent: true }),
      alice.headers,
    );
    const ids = [top.id, sub.id, x.id];
    for (const who of [bob, carol, alice]) {
      expect((await accessible(who.headers)).filter((r) => ids.includes(r.slice(5)))).toEqual([]);
    }
    expect(await tuplesNaming(ids)).toBe(0);
  });

  it("trash purged by the janitor takes its grants along too", async () => {
    const [alice, bob] = [await fm.mesh.newUser(), await fm.mesh.newUser()];
    const y = await fm.upload(alice.headers, "y.bin", randomBytes(100));
    const kept = await fm.upload(alice.headers, "kept.bin", randomBytes(100));
    for (const f of [y, kept]) await fm.grant(alice.headers, f.id, `user:${bob.userId}`, "viewer");
    await rpc(fm.f, fm.f.deleteFile, filev1.DeleteFileRequest.fromPartial({ fileId: y.id }), alice.headers);
    await fm.db.query(
      "UPDATE files.files SET trash_time = now() - interval '10 days' WHERE trash_root_id = $1",
      [y.id],
    );
    const purged = await rpc(
      fm.f,
      fm.f.purgeTrash,
      filev1.PurgeTrashRequest.fromPartial({ cutoffTime: new Date(Date.now() - 86_400_000) }),
      fm.mesh.serviceHeaders("processor"),
    );
    expect(purged.purged).toBe(1);
    const list = await accessible(bob.headers);
    expect(list).not.toContain(`file:${y.id}`);
    expect(list).toContain(`file:${kept.id}`);
    expect(await tuplesNaming([y.id])).toBe(0);
  });
});

describe("F4: open upload sessions per user", () => {
  const create = (h: H, name: string, requestId = "") =>
    rpc(
      fm.f,
      fm.f.createUpload,
      filev1.CreateUploadRequest.fromPartial({ name, sizeBytes: "10", requestId }),
      h,
    );
  const open = async (userId: string) =>
    (await fm.db.query("SELECT 1 FROM files.uploads WHERE owner_id = $1 AND state = 1", [userId])).rowCount;

  it("of many parallel creates exactly UPLOAD_SESSIONS_PER_USER succeed; a cancel or a complete frees a slot", async () => {
    const [a, other] = [await fm.mesh.newUser(), await fm.mesh.newUser()];
    const outcomes = await Promise.allSettled(
      Array.from({ length: MAX_SESSIONS + 6 }, (_, i) => create(a.headers, `s${i}`)),
    );
    const made = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value.upload!] : []));
    expect(made).toHaveLength(MAX_SESSIONS);
    for (const o of outcomes) {
      if (o.status === "rejected") {
        expect(await failure(Promise.reject(o.reason))).toMatchObject({
          code: status.RESOURCE_EXHAUSTED,
          reason: "TOO_MANY_UPLOADS",
        });
      }
    }
    expect(await open(a.userId)).toBe(MAX_SESSIONS);
    // Nothing of a refused create stays: no row, no reservation beyond the open sessions.
    const { rows } = await fm.db.query("SELECT reserved_bytes FROM files.usage WHERE user_id = $1", [
      a.userId,
    ]);
    expect(rows[0].reserved_bytes).toBe(String(10 * MAX_SESSIONS));
    // Another user is not affected.
    expect((await create(other.headers, "mine")).upload).toMatchObject({
      name: "mine",
      id: expect.stringMatching(UUID),
    });

    // A replay of a session already made answers it, at the cap too.
    await rpc(fm.f, fm.f.cancelUpload, { uploadId: made[0]!.id }, a.headers);
    const replayed = await create(a.headers, "again", "req-1");
    expect((await create(a.headers, "again", "req-1")).upload?.id).toBe(replayed.upload?.id);
    expect(await failure(create(a.headers, "one-more"))).toMatchObject({ reason: "TOO_MANY_UPLOADS" });

    // Completing one frees its slot.
    const s = made[1]!;
    const body = randomBytes(10);
    await send(
      fm.f,
      fm.f.uploadPart,
      [filev1.UploadPartRequest.fromPartial({ uploadId: s.id, partNumber: 1, body: { data: body } })],
      a.headers,
    );
    await rpc(fm.f, fm.f.completeUpload, { uploadId: s.id, parts: [] }, a.headers);
    expect((await create(a.headers, "after-complete")).upload).toMatchObject({
      name: "after-complete",
      id: expect.stringMatching(UUID),
    });
    expect(await open(a.userId)).toBe(MAX_SESSIONS);
  });
});
