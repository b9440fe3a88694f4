// Members: users and groups with roles, written through to the permission service with its
// revision; idempotent retries; leaving; the last admin cannot leave. (Nesting: nesting.test.ts.)
import { randomUUID } from "node:crypto";
import { eventsv1 } from "@filemesh/contracts";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { useUserMesh } from "./start-user.js";

const t = useUserMesh();
const db = t.db;

const newGroup = async (h: Record<string, string>, name = "g") =>
  (await t.u.createGroup({ name }, h)).group!.id;
const tuplesOf = (groupId: string) =>
  [...t.fake!.tuples].filter((x) => x.startsWith(`group:${groupId}#`)).sort();

describe("AddGroupMember", () => {
  it("adds a user, writes the tuple through and answers the permission revision", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    const before = t.fake!.revision;
    const res = await t.u.addMember(g, `user:${b.userId}`, a.headers);
    expect(res.member).toMatchObject({
      member: `user:${b.userId}`,
      role: "member",
      displayName: b.email.slice(0, 12),
    });
    expect(Number(res.revision)).toBe(t.fake!.revision);
    expect(Number(res.revision)).toBeGreaterThan(before);
    expect(tuplesOf(g)).toContain(`group:${g}#member@user:${b.userId}`);
    expect(tuplesOf(g)).not.toContain(`group:${g}#admin@user:${b.userId}`);
    const { rows } = await db.query(
      "SELECT payload FROM users.outbox WHERE subject = 'filemesh.users.group_member_added' ORDER BY seq DESC LIMIT 50",
    );
    const ev = rows
      .map((r) => eventsv1.GroupMemberAdded.decode(r.payload))
      .find((e) => e.member === `user:${b.userId}`);
    expect(ev).toMatchObject({ groupId: g, role: "member", revision: res.revision });
  });

  it("promotes and demotes with the role, keeping the admin tuple in step", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    await t.u.addMember(g, `user:${b.userId}`, a.headers, "admin");
    expect(tuplesOf(g)).toContain(`group:${g}#admin@user:${b.userId}`);
    expect((await t.u.getGroup(g, b.headers)).group?.myRole).toBe("admin");
    await t.u.addMember(g, `user:${b.userId}`, a.headers, "member");
    expect(tuplesOf(g)).not.toContain(`group:${g}#admin@user:${b.userId}`);
    expect(tuplesOf(g)).toContain(`group:${g}#member@user:${b.userId}`);
    expect((await t.u.getGroup(g, b.headers)).group?.myRole).toBe("member");
  });

  it("answers retries with the same request_id once, with the same revision", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    const rid = uniqueId("add");
    const calls = t.fake!.calls.length;
    const results = await Promise.all(
      [1, 2, 3].map(() => t.u.addMember(g, `user:${b.userId}`, a.headers, "", rid)),
    );
    expect(new Set(results.map((r) => r.revision)).size).toBe(1);
    expect(t.fake!.calls.length - calls).toBe(1);
    expect((await t.u.addMember(g, `user:${b.userId}`, a.headers, "", rid)).revision).toBe(
      results[0]?.revision,
    );
    expect(await failure(t.u.addMember(g, `user:${b.userId}`, a.headers, "admin", rid))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "REQUEST_ID_REUSED",
    });
    // Without a request id, re-adding is harmless and still answers a fresh revision.
    const again = await t.u.addMember(g, `user:${b.userId}`, a.headers);
    expect(Number(again.revision)).toBeGreaterThan(Number(results[0]?.revision));
  });

  it.each([
    ["", "", "INVALID_MEMBER", "member"],
    ["bob", "", "INVALID_MEMBER", "member"],
    ["user:", "", "INVALID_MEMBER", "member"],
    ["user:not-a-uuid", "", "INVALID_MEMBER", "member"],
    ["file:00000000-0000-4000-8000-000000000000", "", "INVALID_MEMBER", "member"],
    ["user:00000000-0000-4000-8000-000000000000:x", "", "INVALID_MEMBER", "member"],
    ["user:00000000-0000-4000-8000-000000000000", "owner", "INVALID_ROLE", "role"],
    ["user:00000000-0000-4000-8000-000000000000", "viewer", "INVALID_ROLE", "role"],
  ])("refuses member %j with role %j", async (member, role, reason, field) => {
    const a = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    const err = await failure(t.u.addMember(g, member, a.headers, role));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
    expect(err.fieldViolations.map((v) => v.field)).toEqual([field]);
  });

  it("refuses a malformed group id, an unknown user and a group the caller cannot see", async () => {
    const a = await t.mesh.newUser();
    const s = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    const hidden = await newGroup(s.headers);
    const err = await failure(t.u.addMember("g1", `user:${a.userId}`, a.headers));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_ID" });
    expect(err.fieldViolations[0]?.field).toBe("group_id");
    for (const member of ["user:00000000-0000-4000-8000-000000000000", `group:${hidden}`]) {
      expect(await failure(t.u.addMember(g, member, a.headers))).toMatchObject({
        code: status.NOT_FOUND,
        reason: "MEMBER_NOT_FOUND",
      });
    }
  });

  it("fails with UNAVAILABLE and changes nothing while the permission service is down", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    t.fake!.down = true;
    try {
      expect(await failure(t.u.addMember(g, `user:${b.userId}`, a.headers))).toMatchObject({
        code: status.UNAVAILABLE,
        reason: "PERMISSION_UNAVAILABLE",
      });
    } finally {
      t.fake!.down = false;
    }
    expect((await t.u.listMembers(g, a.headers)).members).toHaveLength(1);
  });
});

describe("RemoveGroupMember and ListGroupMembers", () => {
  it("removes by subject or bare user id, answers a revision and deletes both tuples", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const c = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    await t.u.addMember(g, `user:${b.userId}`, a.headers, "admin");
    await t.u.addMember(g, `user:${c.userId}`, a.headers);
    const r1 = await t.u.removeMember(g, `user:${b.userId}`, a.headers);
    const r2 = await t.u.removeMember(g, c.userId, a.headers);
    expect(Number(r2.revision)).toBeGreaterThan(Number(r1.revision));
    expect(tuplesOf(g)).toEqual([`group:${g}#admin@user:${a.userId}`, `group:${g}#member@user:${a.userId}`]);
    const { rows } = await db.query(
      "SELECT payload FROM users.outbox WHERE subject = 'filemesh.users.group_member_removed' ORDER BY seq DESC LIMIT 50",
    );
    const removed = rows
      .map((r) => eventsv1.GroupMemberRemoved.decode(r.payload))
      .filter((e) => e.groupId === g);
    expect(removed.map((e) => [e.member, e.revision]).sort()).toEqual(
      [
        [`user:${b.userId}`, r1.revision],
        [`user:${c.userId}`, r2.revision],
      ].sort(),
    );
    expect(await failure(t.u.removeMember(g, c.userId, a.headers))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "MEMBER_NOT_FOUND",
    });
    expect(await failure(t.u.removeMember(g, "everyone", a.headers))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_MEMBER",
    });
  });

  it("answers a retried removal with its request id as the first attempt, even once the member is gone", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const c = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    await t.u.addMember(g, `user:${b.userId}`, a.headers);
    await t.u.addMember(g, `user:${c.userId}`, a.headers);
    const id = randomUUID();
    const first = await t.u.removeMember(g, `user:${b.userId}`, a.headers, id);
    // The same request again, as after a lost answer: the first attempt's revision, not NOT_FOUND.
    const again = await t.u.removeMember(g, b.userId, a.headers, id);
    expect(again.revision).toBe(first.revision);
    expect(tuplesOf(g)).not.toContain(`group:${g}#member@user:${b.userId}`);
    // A new request (another id, or none) is told the truth; the id cannot be reused for another member.
    expect(await failure(t.u.removeMember(g, b.userId, a.headers, randomUUID()))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "MEMBER_NOT_FOUND",
    });
    expect(await failure(t.u.removeMember(g, c.userId, a.headers, id))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "REQUEST_ID_REUSED",
    });
    expect(tuplesOf(g)).toContain(`group:${g}#member@user:${c.userId}`);
    // Another caller's request with the same id is its own request: b, no longer a member, does
    // not see the group (and gets no replay of a's answer).
    expect(await failure(t.u.removeMember(g, b.userId, b.headers, id))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "GROUP_NOT_FOUND",
    });
    expect(await failure(t.u.removeMember(g, c.userId, a.headers, "not a request id!"))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_REQUEST_ID",
    });
  });

  it("lets a member leave, but never the last admin", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    await t.u.addMember(g, `user:${b.userId}`, a.headers);
    await t.u.removeMember(g, `user:${b.userId}`, b.headers);
    for (const attempt of [
      () => t.u.removeMember(g, a.userId, a.headers),
      () => t.u.addMember(g, `user:${a.userId}`, a.headers, "member"),
    ]) {
      expect(await failure(attempt())).toMatchObject({
        code: status.FAILED_PRECONDITION,
        reason: "LAST_ADMIN",
      });
    }
    await t.u.addMember(g, `user:${b.userId}`, a.headers, "admin");
    await t.u.removeMember(g, a.userId, a.headers);
    expect(await failure(t.u.getGroup(g, a.headers))).toMatchObject({ code: status.NOT_FOUND });
  });

  it("pages members by subject; a token only works for its own group and caller", async () => {
    const a = await t.mesh.newUser();
    const g = await newGroup(a.headers);
    const other = await newGroup(a.headers);
    const users = await Promise.all([1, 2, 3, 4].map(() => t.mesh.newUser()));
    for (const u of users) await t.u.addMember(g, `user:${u.userId}`, a.headers);
    await t.u.addMember(g, `group:${other}`, a.headers);
    const seen: string[] = [];
    let token = "";
    do {
      const res = await t.u.listMembers(g, a.headers, 2, token);
      seen.push(...res.members.map((m) => m.member));
      if (!token && res.nextPageToken) {
        expect(await failure(t.u.listMembers(other, a.headers, 2, res.nextPageToken))).toMatchObject({
          reason: "INVALID_PAGE_TOKEN",
        });
      }
      token = res.nextPageToken;
    } while (token);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expect(seen[0]).toBe(`group:${other}`);
  });
});
