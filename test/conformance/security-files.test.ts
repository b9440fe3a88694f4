// REST conformance, issue 12: the file routes against an attacker who holds some access and
// wants more — an editor carrying an owner's file or folder off (attack 1), an upload that
// commits after its grant was revoked (attack 5). Each refusal is asserted with its status and
// ErrorInfo reason, and the owner's file, its place and both accounts' usage stay as they were.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient } from "./file-client.js";
import { reasonOf, startTarget, type Target } from "./target.js";

let t: Target;
beforeAll(async () => {
  t = await startTarget({ services: ["auth", "user", "permission", "file"] });
});
afterAll(() => t?.stop());

const { signup, call, raw } = fileClient(() => t.base);
type User = Awaited<ReturnType<typeof signup>>;
const unique = () => Math.random().toString(36).slice(2, 10);
const outcome = (r: { status: number; body: unknown }) => [r.status, reasonOf(r.body)];

async function upload(who: User, parentId: string, name: string, text: string) {
  const res = await raw(
    "POST",
    `/v1/files:upload?parentId=${parentId}&name=${name}`,
    who.auth,
    Buffer.from(text),
  );
  expect(res.status).toBe(200);
  return JSON.parse(res.bytes.toString());
}
const folder = async (who: User, name: string, parentId = "") =>
  (await call("POST", "/v1/folders", who.auth, { name, parentId })).body;
const homeOf = async (who: User) => (await folder(who, `probe-${unique()}`)).parentId as string;
const grant = async (owner: User, fileId: string, who: User, role: string) => {
  const res = await call("POST", `/v1/files/${fileId}/grants`, owner.auth, {
    subject: `user:${who.id}`,
    role,
  });
  expect(res.status).toBe(200);
  return res.body;
};
const get = async (who: User, id: string) => (await call("GET", `/v1/files/${id}`, who.auth)).body;
const text = async (who: User, id: string) =>
  (await raw("GET", `/v1/files/${id}/content`, who.auth)).bytes.toString();
const usage = async (who: User) => {
  const u = (await call("GET", "/v1/usage", who.auth)).body;
  return { usedBytes: u.usedBytes, reservedBytes: u.reservedBytes, fileCount: u.fileCount };
};
const move = (who: User, id: string, parentId: string, mask = true) =>
  call("PATCH", `/v1/files/${id}${mask ? "?updateMask=parentId" : ""}`, who.auth, { parentId });

describe("attack 1: an editor takes the owner's file", () => {
  it("cannot move an owner's file out of its folder, so cannot delete it elsewhere", async () => {
    const [alice, bob] = [await signup(), await signup()];
    const x = await upload(alice, "", "x.txt", "alice's words");
    await grant(alice, x.id, bob, "editor");
    const bobHome = await homeOf(bob);
    // The exact request (no update mask), and the same with one.
    expect(outcome(await move(bob, x.id, bobHome, false))).toEqual([403, "DELETE_DENIED"]);
    expect(outcome(await move(bob, x.id, bobHome))).toEqual([403, "DELETE_DENIED"]);
    const del = await call("DELETE", `/v1/files/${x.id}?permanent=true`, bob.auth);
    expect(outcome(del)).toEqual([403, "DELETE_DENIED"]);
    expect(await get(alice, x.id)).toMatchObject({ parentId: x.parentId, ownerId: alice.id, etag: x.etag });
    expect(await text(alice, x.id)).toBe("alice's words");
    // What editors may do stays: rename in place. And the owner still moves her own file.
    const renamed = await call("PATCH", `/v1/files/${x.id}?updateMask=name`, bob.auth, { name: "y.txt" });
    expect(renamed.status).toBe(200);
    expect(renamed.body.parentId).toBe(x.parentId);
    const mine = await folder(alice, "archive");
    expect((await move(alice, x.id, mine.id)).status).toBe(200);
    expect(await text(alice, x.id)).toBe("alice's words");
  });

  it("cannot pull a subtree out of a shared folder; moves what it owns", async () => {
    const [alice, bob, carol] = [await signup(), await signup(), await signup()];
    const team = await folder(alice, "team");
    const sub = await folder(alice, "alice-sub", team.id);
    const y = await upload(alice, sub.id, "y.txt", "deep inside");
    await grant(alice, team.id, bob, "editor");
    const bobHome = await homeOf(bob);
    const bobs = await folder(bob, "bobs", team.id); // editors create, and own what they create
    expect(bobs.ownerId).toBe(bob.id);
    expect(outcome(await move(bob, sub.id, bobs.id))).toEqual([403, "DELETE_DENIED"]);
    expect(outcome(await move(bob, sub.id, bobHome))).toEqual([403, "DELETE_DENIED"]);
    expect(outcome(await move(bob, y.id, bobs.id))).toEqual([403, "DELETE_DENIED"]);
    expect(outcome(await move(carol, sub.id, bobHome))).toEqual([404, "FILE_NOT_FOUND"]);
    // Bob's own folder goes where he likes; his own file may go into the shared folder.
    expect((await move(bob, bobs.id, bobHome)).status).toBe(200);
    const z = await upload(bob, "", "z.txt", "bob's");
    expect((await move(bob, z.id, team.id)).status).toBe(200);
    // ... but not into a folder he may only read.
    const readOnly = await folder(alice, "read-only");
    await grant(alice, readOnly.id, bob, "viewer");
    const z2 = await upload(bob, "", "z2.txt", "bob's too");
    expect(outcome(await move(bob, z2.id, readOnly.id))).toEqual([403, "WRITE_DENIED"]);
    expect(await get(alice, sub.id)).toMatchObject({ parentId: team.id, ownerId: alice.id });
    expect(await get(alice, y.id)).toMatchObject({ parentId: sub.id });
    expect(await text(alice, y.id)).toBe("deep inside");
    const listed = (await call("GET", `/v1/files?parentId=${team.id}`, alice.auth)).body.files;
    expect(listed.map((f: { name: string }) => f.name)).toEqual(["alice-sub", "z.txt"]);
  });

  it("copies into its own tree without touching the original; restores nothing it cannot delete", async () => {
    const [alice, bob] = [await signup(), await signup()];
    const shared = await folder(alice, "shared");
    const w = await upload(alice, shared.id, "w.txt", "twelve bytes");
    await grant(alice, shared.id, bob, "viewer");
    const grantsBefore = (await call("GET", `/v1/files/${shared.id}/grants`, alice.auth)).body;
    const [aliceBefore, bobBefore] = [await usage(alice), await usage(bob)];
    const bobHome = await homeOf(bob);
    const copy = await call("POST", `/v1/files/${shared.id}:copy`, bob.auth, {
      parentId: bobHome,
      name: "mine",
    });
    expect(copy.status).toBe(200);
    expect(copy.body).toMatchObject({ ownerId: bob.id, parentId: bobHome, kind: "FOLDER" });
    const inner = (await call("GET", `/v1/files?parentId=${copy.body.id}`, bob.auth)).body.files;
    expect(inner).toMatchObject([{ name: "w.txt", ownerId: bob.id }]);
    expect(await text(bob, inner[0].id)).toBe("twelve bytes");
    expect(await text(bob, w.id)).toBe("twelve bytes"); // the original's parent edge still leads to Bob's grant
    // The original: same place, owner, etag, bytes, grants and usage.
    expect(await get(alice, shared.id)).toMatchObject({
      parentId: shared.parentId,
      ownerId: alice.id,
      etag: shared.etag,
    });
    expect(await get(alice, w.id)).toMatchObject({ parentId: shared.id, ownerId: alice.id, etag: w.etag });
    expect(await text(alice, w.id)).toBe("twelve bytes");
    expect((await call("GET", `/v1/files/${shared.id}/grants`, alice.auth)).body).toEqual(grantsBefore);
    expect(await usage(alice)).toEqual(aliceBefore);
    expect(await usage(bob)).toMatchObject({
      usedBytes: String(Number(bobBefore.usedBytes) + 12),
      fileCount: String(Number(bobBefore.fileCount) + 1),
    });
    // The copy is Bob's to delete; the original is not, nor is it his to move or restore.
    expect(outcome(await call("DELETE", `/v1/files/${shared.id}`, bob.auth))).toEqual([403, "DELETE_DENIED"]);
    expect(outcome(await move(bob, w.id, copy.body.id))).toEqual([403, "WRITE_DENIED"]); // a viewer
    expect((await call("DELETE", `/v1/files/${copy.body.id}?permanent=true`, bob.auth)).status).toBe(200);
    await grant(alice, shared.id, bob, "editor");
    expect((await call("DELETE", `/v1/files/${w.id}`, alice.auth)).status).toBe(200);
    const restore = await call("POST", `/v1/files/${w.id}:restore`, bob.auth, {});
    expect(outcome(restore)).toEqual([403, "DELETE_DENIED"]);
    expect((await get(alice, w.id)).trashTime).toEqual(expect.any(String));
  });
});

describe("attack 5: an upload completes after access is revoked", () => {
  it("re-checks access on every part, URL refresh and the commit; nothing becomes visible", async () => {
    const [alice, bob] = [await signup(), await signup()];
    const team = await folder(alice, `team-${unique()}`);
    const report = await upload(alice, team.id, "report.txt", "alice's report");
    const g = await grant(alice, team.id, bob, "editor");
    const before = await usage(bob);
    const mine = Buffer.from("bob's bytes");
    const open = async () => {
      const s = await call("POST", "/v1/uploads", bob.auth, {
        parentId: team.id,
        name: "report.txt",
        sizeBytes: String(mine.length),
      });
      expect(s.status).toBe(200);
      return s.body.id as string;
    };
    const [s1, s2, s3] = [await open(), await open(), await open()];
    expect((await raw("PUT", `/v1/uploads/${s1}/parts/1`, bob.auth, mine)).status).toBe(200);
    expect((await usage(bob)).reservedBytes).toBe(String(3 * mine.length));

    expect((await call("DELETE", `/v1/files/${team.id}/grants/${g.id}`, alice.auth)).status).toBe(200);
    expect(outcome(await call("POST", `/v1/uploads/${s1}:complete`, bob.auth, {}))).toEqual([
      404,
      "FILE_NOT_FOUND",
    ]);
    const part = await raw("PUT", `/v1/uploads/${s2}/parts/1`, bob.auth, mine);
    expect([part.status, reasonOf(JSON.parse(part.bytes.toString()))]).toEqual([404, "FILE_NOT_FOUND"]);
    expect(outcome(await call("POST", `/v1/uploads/${s3}:refreshUrls`, bob.auth, {}))).toEqual([
      404,
      "FILE_NOT_FOUND",
    ]);
    // Each refused session ended: aborted, its reservation released.
    for (const id of [s1, s2, s3]) {
      expect((await call("GET", `/v1/uploads/${id}`, bob.auth)).body.state).toBe("UPLOAD_STATE_ABORTED");
    }
    expect(outcome(await call("POST", `/v1/uploads/${s1}:complete`, bob.auth, {}))).toEqual([
      400,
      "UPLOAD_ABORTED",
    ]);
    expect(await usage(bob)).toEqual(before);
    expect(await text(alice, report.id)).toBe("alice's report");
    expect((await get(alice, report.id)).etag).toBe(report.etag);
    const versions = await call("GET", `/v1/files/${report.id}/versions`, alice.auth);
    expect(versions.body.versions).toHaveLength(1);
  });

  it("an editor turned viewer gets WRITE_DENIED at the commit", async () => {
    const [alice, bob] = [await signup(), await signup()];
    const team = await folder(alice, `team-${unique()}`);
    const report = await upload(alice, team.id, "report.txt", "alice's report");
    await grant(alice, team.id, bob, "editor");
    const before = await usage(bob);
    const mine = Buffer.from("bob's version");
    const s = await call("POST", "/v1/uploads", bob.auth, {
      parentId: team.id,
      name: "report.txt",
      sizeBytes: String(mine.length),
    });
    expect((await raw("PUT", `/v1/uploads/${s.body.id}/parts/1`, bob.auth, mine)).status).toBe(200);
    await grant(alice, team.id, bob, "viewer"); // replaces the editor role
    const done = await call("POST", `/v1/uploads/${s.body.id}:complete`, bob.auth, {});
    expect(outcome(done)).toEqual([403, "WRITE_DENIED"]);
    expect(await usage(bob)).toEqual(before);
    expect(await text(alice, report.id)).toBe("alice's report");
    // The owner's own session to the same name still adds a version.
    const own = await call("POST", "/v1/uploads", alice.auth, {
      parentId: team.id,
      name: "report.txt",
      sizeBytes: "2",
    });
    expect(
      (await raw("PUT", `/v1/uploads/${own.body.id}/parts/1`, alice.auth, Buffer.from("v2"))).status,
    ).toBe(200);
    expect((await call("POST", `/v1/uploads/${own.body.id}:complete`, alice.auth, {})).body.id).toBe(
      report.id,
    );
    expect(await text(alice, report.id)).toBe("v2");
  });
});
