// Nested groups: members of a nested group are members of the parent, a group can hold the
// admin role, and nesting cycles of any length are refused (also when two additions race).
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { useUserMesh } from "./start-user.js";

const t = useUserMesh();

const newGroup = async (h: Record<string, string>, name = "g") =>
  (await t.u.createGroup({ name }, h)).group!.id;
const tuplesOf = (groupId: string) =>
  [...t.fake!.tuples].filter((x) => x.startsWith(`group:${groupId}#`)).sort();

describe("nested groups", () => {
  it("refuses cycles of every length with GROUP_CYCLE and writes nothing", async () => {
    const a = await t.mesh.newUser();
    const [x, y, z] = [
      await newGroup(a.headers, "x"),
      await newGroup(a.headers, "y"),
      await newGroup(a.headers, "z"),
    ];
    await t.u.addMember(x, `group:${y}`, a.headers);
    await t.u.addMember(y, `group:${z}`, a.headers);
    const calls = t.fake!.calls.length;
    for (const [parent, child] of [
      [x, x],
      [y, x],
      [z, x],
      [z, y],
    ] as const) {
      const err = await failure(t.u.addMember(parent, `group:${child}`, a.headers));
      expect(err).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "GROUP_CYCLE" });
    }
    expect(t.fake!.calls.length).toBe(calls);
    // Concurrent opposite additions cannot both succeed.
    const [p, q] = [await newGroup(a.headers, "p"), await newGroup(a.headers, "q")];
    const both = await Promise.allSettled([
      t.u.addMember(p, `group:${q}`, a.headers),
      t.u.addMember(q, `group:${p}`, a.headers),
    ]);
    expect(both.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = both.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(await failure(Promise.reject(rejected.reason))).toMatchObject({ reason: "GROUP_CYCLE" });
  });

  it("makes members of a nested group members of the parent, and a group admin role counts", async () => {
    const a = await t.mesh.newUser();
    const n = await t.mesh.newUser();
    const top = await newGroup(a.headers, "top");
    const mid = await newGroup(a.headers, "mid");
    const leaf = await newGroup(a.headers, "leaf");
    await t.u.addMember(leaf, `user:${n.userId}`, a.headers);
    await t.u.addMember(mid, `group:${leaf}`, a.headers);
    await t.u.addMember(top, `group:${mid}`, a.headers);
    expect(tuplesOf(top)).toContain(`group:${top}#member@group:${mid}`);
    expect((await t.u.getGroup(top, n.headers)).group?.myRole).toBe("member");
    expect((await t.u.listMembers(top, n.headers)).members.map((m) => m.member)).toContain(`group:${mid}`);
    // ListGroups lists direct memberships only.
    expect((await t.u.listGroups(n.headers)).groups.map((g) => g.id)).toEqual([leaf]);
    expect(await failure(t.u.addMember(top, `user:${a.userId}`, n.headers))).toMatchObject({
      code: status.PERMISSION_DENIED,
    });
    await t.u.addMember(top, `group:${mid}`, a.headers, "admin");
    expect((await t.u.getGroup(top, n.headers)).group?.myRole).toBe("admin");
    const o = await t.mesh.newUser();
    await t.u.addMember(top, `user:${o.userId}`, n.headers);
    // While mid is top's only admin, mid cannot be deleted (top would have no admin left).
    await t.u.removeMember(top, a.userId, n.headers);
    expect(await failure(t.u.deleteGroup(mid, a.headers))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "LAST_ADMIN",
    });
    await t.u.addMember(top, `user:${o.userId}`, n.headers, "admin");
    await t.u.deleteGroup(mid, a.headers);
    expect((await t.u.getGroup(top, o.headers)).group?.myRole).toBe("admin");
  });
});
