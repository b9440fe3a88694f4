// The access-control matrix of docs/reliability.md for the group RPCs: every RPC × {admin, member,
// member through a nested group, stranger, anonymous}. Only the allowed cells succeed; a
// stranger cannot tell a hidden group from a missing one; denied writes change nothing.
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUserMesh, type UserTestMesh } from "./start-user.js";

let t: UserTestMesh;
type User = Awaited<ReturnType<UserTestMesh["mesh"]["newUser"]>>;
let users: Record<"admin" | "member" | "nested" | "stranger" | "target", User>;

beforeAll(async () => {
  t = await startUserMesh();
  const [admin, member, nested, stranger, target] = await Promise.all(
    [1, 2, 3, 4, 5].map(() => t.mesh.newUser()),
  );
  users = { admin: admin!, member: member!, nested: nested!, stranger: stranger!, target: target! };
});
afterAll(() => t.stop());

type Caller = "admin" | "member" | "nested" | "stranger" | "anonymous";
const CALLERS: Caller[] = ["admin", "member", "nested", "stranger", "anonymous"];

/** A fresh group: admin; member and target directly; nested through a subgroup. */
async function fixture() {
  const h = users.admin.headers;
  const g = (await t.u.createGroup({ name: "matrix" }, h)).group!.id;
  const sub = (await t.u.createGroup({ name: "sub" }, h)).group!.id;
  await t.u.addMember(sub, `user:${users.nested.userId}`, h);
  await t.u.addMember(g, `group:${sub}`, h);
  await t.u.addMember(g, `user:${users.member.userId}`, h);
  await t.u.addMember(g, `user:${users.target.userId}`, h);
  return g;
}

const headersOf = (c: Caller) => (c === "anonymous" ? {} : users[c].headers);

const RPCS: Record<string, (g: string, h: Record<string, string>) => Promise<unknown>> = {
  GetGroup: (g, h) => t.u.getGroup(g, h),
  ListGroupMembers: (g, h) => t.u.listMembers(g, h),
  AddGroupMember: (g, h) => t.u.addMember(g, `user:${users.stranger.userId}`, h),
  RemoveGroupMember: (g, h) => t.u.removeMember(g, `user:${users.target.userId}`, h),
  DeleteGroup: (g, h) => t.u.deleteGroup(g, h),
};

const OK = "ok";
// Expected outcome per RPC and caller: OK or the gRPC status.
const MATRIX: Record<string, Record<Caller, string | number>> = {
  GetGroup: {
    admin: OK,
    member: OK,
    nested: OK,
    stranger: status.NOT_FOUND,
    anonymous: status.UNAUTHENTICATED,
  },
  ListGroupMembers: {
    admin: OK,
    member: OK,
    nested: OK,
    stranger: status.NOT_FOUND,
    anonymous: status.UNAUTHENTICATED,
  },
  AddGroupMember: {
    admin: OK,
    member: status.PERMISSION_DENIED,
    nested: status.PERMISSION_DENIED,
    stranger: status.NOT_FOUND,
    anonymous: status.UNAUTHENTICATED,
  },
  RemoveGroupMember: {
    admin: OK,
    member: status.PERMISSION_DENIED,
    nested: status.PERMISSION_DENIED,
    stranger: status.NOT_FOUND,
    anonymous: status.UNAUTHENTICATED,
  },
  DeleteGroup: {
    admin: OK,
    member: status.PERMISSION_DENIED,
    nested: status.PERMISSION_DENIED,
    stranger: status.NOT_FOUND,
    anonymous: status.UNAUTHENTICATED,
  },
};

const cells = Object.entries(MATRIX).flatMap(([rpc, row]) =>
  CALLERS.map((caller) => [rpc, caller, row[caller]] as const),
);

describe("group access matrix", () => {
  it.each(cells)("%s by %s → %s", async (rpc, caller, expected) => {
    const g = await fixture();
    const tuples = [...t.fake!.tuples].filter((x) => x.includes(g)).sort();
    const members = (await t.u.listMembers(g, users.admin.headers)).members;
    const run = RPCS[rpc]!(g, headersOf(caller));
    if (expected === OK) {
      await run;
      return;
    }
    const err = await failure(run);
    expect(err.code).toBe(expected);
    if (expected === status.NOT_FOUND) expect(err.reason).toBe("GROUP_NOT_FOUND");
    if (expected === status.PERMISSION_DENIED) expect(err.reason).toBe("NOT_GROUP_ADMIN");
    // A denied call changes nothing, here or in the permission service.
    expect([...t.fake!.tuples].filter((x) => x.includes(g)).sort()).toEqual(tuples);
    expect((await t.u.listMembers(g, users.admin.headers)).members).toEqual(members);
  });

  it("answers a stranger the same for a hidden group and a missing one", async () => {
    const g = await fixture();
    const missing = "00000000-0000-4000-8000-00000000dead";
    for (const rpc of Object.keys(RPCS)) {
      const hidden = await failure(RPCS[rpc]!(g, users.stranger.headers));
      const absent = await failure(RPCS[rpc]!(missing, users.stranger.headers));
      expect({ ...hidden, metadata: {} }).toEqual({ ...absent, metadata: {} });
    }
  });

  it("lists only the caller's own groups", async () => {
    const g = await fixture();
    expect((await t.u.listGroups(users.stranger.headers)).groups.map((x) => x.id)).not.toContain(g);
    expect((await t.u.listGroups(users.member.headers)).groups.find((x) => x.id === g)?.myRole).toBe(
      "member",
    );
    expect(await failure(t.u.listGroups({}))).toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it("does not let a member make themself admin or add others", async () => {
    const g = await fixture();
    for (const role of ["admin", "member"]) {
      expect(
        await failure(t.u.addMember(g, `user:${users.member.userId}`, users.member.headers, role)),
      ).toMatchObject({
        code: status.PERMISSION_DENIED,
        reason: "NOT_GROUP_ADMIN",
      });
    }
    expect((await t.u.getGroup(g, users.member.headers)).group?.myRole).toBe("member");
  });
});
