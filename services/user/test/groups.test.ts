// Groups: create (idempotent by request_id, creator becomes admin), get, list mine (paged with
// opaque, tamper-proof tokens), delete (admins only; every tuple of the group is deleted).
import { eventsv1 } from "@filemesh/contracts";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { useUserMesh } from "./start-user.js";

const t = useUserMesh();
const db = t.db;

describe("CreateGroup", () => {
  it("creates a group whose creator is admin, writes the tuples through and emits events", async () => {
    const a = await t.mesh.newUser();
    const { group } = await t.u.createGroup({ name: "  Team Ω ", description: "line 1\nline 2" }, a.headers);
    expect(group).toMatchObject({ name: "Team Ω", description: "line 1\nline 2", myRole: "admin" });
    expect(group?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.fake!.tuples).toContain(`group:${group!.id}#member@user:${a.userId}`);
    expect(t.fake!.tuples).toContain(`group:${group!.id}#admin@user:${a.userId}`);
    const { rows } = await db.query(
      "SELECT subject, payload FROM users.outbox WHERE subject LIKE 'filemesh.users.group_%' ORDER BY seq DESC LIMIT 50",
    );
    const created = rows
      .filter((r) => r.subject === "filemesh.users.group_created")
      .map((r) => eventsv1.GroupCreated.decode(r.payload));
    expect(created.find((e) => e.groupId === group!.id)).toMatchObject({ name: "Team Ω" });
  });

  it("ignores id, create_time and my_role set by the caller", async () => {
    const a = await t.mesh.newUser();
    const forged = "00000000-0000-4000-8000-000000000001";
    const { group } = await t.u.createGroup(
      { id: forged, name: "g", myRole: "member", createTime: new Date(0) },
      a.headers,
    );
    expect(group?.id).not.toBe(forged);
    expect(group?.myRole).toBe("admin");
    expect(group?.createTime?.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("creates one group per request_id and answers retries with it", async () => {
    const a = await t.mesh.newUser();
    const rid = uniqueId("req");
    const results = await Promise.all([1, 2, 3].map(() => t.u.createGroup({ name: "once" }, a.headers, rid)));
    const ids = new Set(results.map((r) => r.group?.id));
    expect(ids.size).toBe(1);
    const again = await t.u.createGroup({ name: "once" }, a.headers, rid);
    expect(again.group?.id).toBe(results[0]?.group?.id);
    const { groups } = await t.u.listGroups(a.headers);
    expect(groups.filter((g) => g.name === "once")).toHaveLength(1);
    // The same id with other parameters is an error, and another user's id space is separate.
    expect(await failure(t.u.createGroup({ name: "twice" }, a.headers, rid))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "REQUEST_ID_REUSED",
    });
    const b = await t.mesh.newUser();
    expect((await t.u.createGroup({ name: "once" }, b.headers, rid)).group?.id).not.toBe(again.group?.id);
  });

  it.each([
    [{ name: "" }, "", "INVALID_GROUP_NAME", "group.name"],
    [{ name: "   " }, "", "INVALID_GROUP_NAME", "group.name"],
    [{ name: "n".repeat(101) }, "", "INVALID_GROUP_NAME", "group.name"],
    [{ name: "tab\there" }, "", "INVALID_GROUP_NAME", "group.name"],
    [{ name: "zero\u200Bwidth" }, "", "INVALID_GROUP_NAME", "group.name"],
    [{ name: "ok", description: "d".repeat(1001) }, "", "INVALID_DESCRIPTION", "group.description"],
    [{ name: "ok", description: "bell\u0007" }, "", "INVALID_DESCRIPTION", "group.description"],
    [{ name: "ok" }, "has spaces", "INVALID_REQUEST_ID", "request_id"],
    [{ name: "ok" }, "r".repeat(129), "INVALID_REQUEST_ID", "request_id"],
  ])("refuses %j (request id %j) with a field violation", async (group, rid, reason, field) => {
    const a = await t.mesh.newUser();
    const err = await failure(t.u.createGroup(group, a.headers, rid));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
    expect(err.fieldViolations.map((v) => v.field)).toEqual([field]);
  });

  it("fails with UNAVAILABLE and creates nothing while the permission service is down", async () => {
    const a = await t.mesh.newUser();
    t.fake!.down = true;
    try {
      const err = await failure(t.u.createGroup({ name: "doomed" }, a.headers));
      expect(err).toMatchObject({ code: status.UNAVAILABLE, reason: "PERMISSION_UNAVAILABLE" });
    } finally {
      t.fake!.down = false;
    }
    expect((await t.u.listGroups(a.headers)).groups).toEqual([]);
  });
});

describe("ListGroups", () => {
  it("pages through the caller's groups by name with opaque tokens", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    const names = ["delta", "alpha", "echo", "charlie", "bravo"];
    for (const name of names) await t.u.createGroup({ name }, a.headers);
    await t.u.createGroup({ name: "not mine" }, b.headers);
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const res = await t.u.listGroups(a.headers, 2, token);
      seen.push(...res.groups.map((g) => g.name));
      expect(res.groups.every((g) => g.myRole === "admin")).toBe(true);
      token = res.nextPageToken;
      pages++;
    } while (token);
    expect(seen).toEqual([...names].sort());
    expect(pages).toBe(3);
  });

  it("refuses tampered, foreign and malformed tokens, and negative page sizes", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    for (const name of ["x1", "x2"]) await t.u.createGroup({ name }, a.headers);
    const { nextPageToken } = await t.u.listGroups(a.headers, 1);
    expect(nextPageToken).not.toBe("");
    const [body, sig] = nextPageToken.split(".");
    const forged = Buffer.from(JSON.stringify({ v: 1, c: ["", "00000000-0000-4000-8000-000000000000"] }));
    for (const bad of [
      `${body}x.${sig}`,
      `${forged.toString("base64url")}.${sig}`,
      "garbage",
      "a.b.c",
      "x".repeat(5000),
    ]) {
      const err = await failure(t.u.listGroups(a.headers, 1, bad));
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PAGE_TOKEN" });
      expect(err.fieldViolations[0]?.field).toBe("page_token");
    }
    // A token is bound to the caller who received it.
    expect(await failure(t.u.listGroups(b.headers, 1, nextPageToken))).toMatchObject({
      reason: "INVALID_PAGE_TOKEN",
    });
    expect(await failure(t.u.listGroups(a.headers, -1))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_PAGE_SIZE",
    });
    // Oversized pages are capped, not refused.
    expect((await t.u.listGroups(a.headers, 1_000_000)).groups).toHaveLength(2);
  });
});

describe("DeleteGroup", () => {
  it("deletes the group, its memberships and its tuples (also where it is nested) and returns a revision", async () => {
    const a = await t.mesh.newUser();
    const m = await t.mesh.newUser();
    const { group: parent } = await t.u.createGroup({ name: "parent" }, a.headers);
    const { group: child } = await t.u.createGroup({ name: "child" }, a.headers);
    await t.u.addMember(child!.id, `user:${m.userId}`, a.headers);
    await t.u.addMember(parent!.id, `group:${child!.id}`, a.headers);
    const before = t.fake!.revision;
    const { revision } = await t.u.deleteGroup(child!.id, a.headers);
    expect(Number(revision)).toBeGreaterThan(before);
    const { rows } = await db.query(
      "SELECT payload FROM users.outbox WHERE subject = 'filemesh.users.group_deleted' ORDER BY seq DESC LIMIT 50",
    );
    expect(rows.map((r) => eventsv1.GroupDeleted.decode(r.payload).groupId)).toContain(child!.id);
    expect([...t.fake!.tuples].filter((x) => x.includes(child!.id))).toEqual([]);
    expect(t.fake!.tuples).toContain(`group:${parent!.id}#admin@user:${a.userId}`);
    expect(await failure(t.u.getGroup(child!.id, a.headers))).toMatchObject({ code: status.NOT_FOUND });
    expect((await t.u.listMembers(parent!.id, a.headers)).members.map((x) => x.member)).toEqual([
      `user:${a.userId}`,
    ]);
    expect(await failure(t.u.deleteGroup(child!.id, a.headers))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "GROUP_NOT_FOUND",
    });
  });
});
