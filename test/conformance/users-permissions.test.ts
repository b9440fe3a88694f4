// REST conformance: user, group, grant and permission routes (docs/architecture.md §7).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reasonOf, rest, startTarget, type Target } from "./target.js";

let t: Target;
beforeAll(async () => {
  t = await startTarget({ services: ["auth", "user", "permission", "file", "processor"] });
});
afterAll(() => t.stop());

const PASSWORD = "a long rest passphrase";
async function signup() {
  const email = `rest-up-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const reg = await rest(t.base, "POST", "/v1/auth:register", {
    email,
    password: PASSWORD,
    displayName: "Rest",
  });
  expect(reg.status).toBe(200);
  const login = await rest(t.base, "POST", "/v1/auth:login", { email, password: PASSWORD });
  return {
    email,
    userId: login.body.userId as string,
    auth: { authorization: `Bearer ${login.body.accessToken}` },
  };
}

describe("user routes", () => {
  it("GET/PATCH /v1/users/me, GET /v1/users/{id}, GET /v1/users:lookup", async () => {
    const a = await signup();
    const b = await signup();
    const me = await rest(t.base, "GET", "/v1/users/me", undefined, a.auth);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: a.userId, email: a.email });
    const patched = await rest(
      t.base,
      "PATCH",
      "/v1/users/me?updateMask=displayName,bio",
      { displayName: "Ada L.", bio: "hi" },
      a.auth,
    );
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ displayName: "Ada L.", bio: "hi" });
    const other = await rest(t.base, "GET", `/v1/users/${a.userId}`, undefined, b.auth);
    expect(other.status).toBe(200);
    expect(other.body.displayName).toBe("Ada L.");
    expect(other.body.email ?? "").toBe("");
    const found = await rest(
      t.base,
      "GET",
      `/v1/users:lookup?email=${encodeURIComponent(a.email)}`,
      undefined,
      b.auth,
    );
    expect(found.status).toBe(200);
    expect(found.body.id).toBe(a.userId);
    const missing = await rest(
      t.base,
      "GET",
      "/v1/users:lookup?email=nobody%40example.com",
      undefined,
      b.auth,
    );
    expect(missing.status).toBe(404);
    expect((await rest(t.base, "GET", "/v1/users/me")).status).toBe(401);
  });
});

describe("group routes", () => {
  it("create, get, list, members add/list/remove, delete", async () => {
    const admin = await signup();
    const member = await signup();
    const created = await rest(
      t.base,
      "POST",
      "/v1/groups",
      { name: "rest group", description: "d" },
      admin.auth,
    );
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ name: "rest group", description: "d" });
    expect((await rest(t.base, "GET", `/v1/groups/${id}`, undefined, admin.auth)).status).toBe(200);
    const list = await rest(t.base, "GET", "/v1/groups?pageSize=10", undefined, admin.auth);
    expect(list.status).toBe(200);
    expect(list.body.groups.map((g: any) => g.id)).toContain(id);
    const add = await rest(
      t.base,
      "POST",
      `/v1/groups/${id}/members`,
      { member: `user:${member.userId}`, role: "member" },
      admin.auth,
    );
    expect(add.status).toBe(200);
    expect(Number(add.body.revision)).toBeGreaterThan(0);
    const members = await rest(t.base, "GET", `/v1/groups/${id}/members`, undefined, admin.auth);
    expect(members.body.members.map((m: any) => m.member)).toContain(`user:${member.userId}`);
    const denied = await rest(
      t.base,
      "POST",
      `/v1/groups/${id}/members`,
      { member: `user:${admin.userId}`, role: "admin" },
      member.auth,
    );
    expect(denied.status).toBe(403);
    const bad = await rest(
      t.base,
      "POST",
      `/v1/groups/${id}/members`,
      { member: "nonsense", role: "member" },
      admin.auth,
    );
    expect(bad.status).toBe(400);
    const removed = await rest(
      t.base,
      "DELETE",
      `/v1/groups/${id}/members/${member.userId}`,
      undefined,
      admin.auth,
    );
    expect(removed.status).toBe(200);
    const stranger = await rest(t.base, "GET", `/v1/groups/${id}`, undefined, member.auth);
    expect(stranger.status).toBe(404);
    // A subject in the path: its ":" is sent escaped (a bare one would start a custom verb).
    const again = { member: `user:${member.userId}`, role: "member" };
    expect((await rest(t.base, "POST", `/v1/groups/${id}/members`, again, admin.auth)).status).toBe(200);
    // With ?requestId=, the same DELETE again (a retry whose answer was lost) answers the first
    // attempt's revision; without one, the member is gone: 404.
    const bySubjectPath = `/v1/groups/${id}/members/${encodeURIComponent(`user:${member.userId}`)}`;
    const bySubject = await rest(t.base, "DELETE", `${bySubjectPath}?requestId=rm-1`, undefined, admin.auth);
    expect(bySubject.status).toBe(200);
    const retried = await rest(t.base, "DELETE", `${bySubjectPath}?requestId=rm-1`, undefined, admin.auth);
    expect(retried.status).toBe(200);
    expect(retried.body.revision).toBe(bySubject.body.revision);
    expect((await rest(t.base, "DELETE", bySubjectPath, undefined, admin.auth)).status).toBe(404);
    const left = await rest(t.base, "GET", `/v1/groups/${id}/members`, undefined, admin.auth);
    expect(left.body.members.map((m: any) => m.member)).not.toContain(`user:${member.userId}`);
    expect((await rest(t.base, "DELETE", `/v1/groups/${id}`, undefined, admin.auth)).status).toBe(200);
    expect((await rest(t.base, "GET", `/v1/groups/${id}`, undefined, admin.auth)).status).toBe(404);
  });
});

describe("grant and permission routes", () => {
  it("grants on a folder decide checks, batch checks and the accessible list", async () => {
    const owner = await signup();
    const friend = await signup();
    const folder = await rest(t.base, "POST", "/v1/folders", { name: `shared-${Date.now()}` }, owner.auth);
    expect(folder.status).toBe(200);
    const fileId = folder.body.id as string;
    const resource = `file:${fileId}`;
    const check = (who: typeof owner, minRevision = "0") =>
      rest(
        t.base,
        "POST",
        "/v1/permissions:check",
        { subject: `user:${who.userId}`, resource, permission: "read", minRevision },
        who.auth,
      );
    expect((await check(friend)).body.allowed ?? false).toBe(false);
    const grant = await rest(
      t.base,
      "POST",
      `/v1/files/${fileId}/grants`,
      { subject: `user:${friend.userId}`, role: "viewer" },
      owner.auth,
    );
    expect(grant.status).toBe(200);
    expect(grant.body).toMatchObject({ subject: `user:${friend.userId}`, role: "viewer" });
    const allowed = await check(friend, grant.body.revision);
    expect(allowed.status).toBe(200);
    expect(allowed.body.allowed).toBe(true);
    const batch = await rest(
      t.base,
      "POST",
      "/v1/permissions:batchCheck",
      {
        items: [
          { subject: `user:${friend.userId}`, resource, permission: "read" },
          { subject: `user:${friend.userId}`, resource, permission: "write" },
        ],
        minRevision: grant.body.revision,
      },
      friend.auth,
    );
    expect(batch.status).toBe(200);
    expect(batch.body.allowed).toEqual([true, false]);
    const accessible = await rest(
      t.base,
      "GET",
      `/v1/permissions/accessible?minRevision=${grant.body.revision}`,
      undefined,
      friend.auth,
    );
    expect(accessible.status).toBe(200);
    expect(accessible.body.resources.map((r: any) => r.resource)).toContain(resource);
    const grants = await rest(t.base, "GET", `/v1/files/${fileId}/grants`, undefined, owner.auth);
    expect(grants.body.grants.map((g: any) => g.id)).toContain(grant.body.id);
    const notShare = await rest(
      t.base,
      "POST",
      `/v1/files/${fileId}/grants`,
      { subject: `user:${owner.userId}`, role: "viewer" },
      friend.auth,
    );
    expect(notShare.status).toBe(403);
    const del = await rest(
      t.base,
      "DELETE",
      `/v1/files/${fileId}/grants/${grant.body.id}`,
      undefined,
      owner.auth,
    );
    expect(del.status).toBe(200);
    expect((await check(friend, del.body.revision)).body.allowed ?? false).toBe(false);
    const badPerm = await rest(
      t.base,
      "POST",
      "/v1/permissions:check",
      { resource, permission: "fly" },
      friend.auth,
    );
    expect([badPerm.status, reasonOf(badPerm.body)]).toEqual([400, "INVALID_PERMISSION"]);
  });
});
