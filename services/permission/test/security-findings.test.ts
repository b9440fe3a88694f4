// Findings of the security review (docs/security.md) fixed in the permission service:
// F1 — WriteRelations' `forget` deletes every tuple naming a file or group deleted for good
// (grants to users, groups and links, parents, memberships, nestings), in one revision that
// every replica applies, so nobody's Check or ListAccessible names it any more.
import { eventsv1, permissionv1 } from "@filemesh/contracts";
import { call, failure, testDatabaseUrl, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AclMesh, startAclMesh } from "./acl-mesh.js";

let t: AclMesh;
const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
beforeAll(async () => {
  t = await startAclMesh({ replicas: 2 });
});
afterAll(async () => {
  await t.stop();
  await db.end();
});

const naming = async (ref: string) =>
  (await db.query("SELECT 1 FROM acl.tuples WHERE object = $1 OR subject = $1", [ref])).rowCount;

const accessible = async (h: Record<string, string>, i: number, minRevision: string) =>
  (await t.listAccessible(h, { i, pageSize: 1000, minRevision })).resources.map((r) => r.resource);

describe("F1: forgetting objects deleted for good", () => {
  it("drops every tuple naming a forgotten file, on every replica, and the grantees' lists with them", async () => {
    const [owner, reader, member] = [await t.mesh.newUser(), await t.mesh.newUser(), await t.mesh.newUser()];
    const group = `group:${uniqueId("g")}`;
    const [folder, file, kept] = [t.newFile().ref, t.newFile().ref, t.newFile().ref];
    await t.write([["touch", group, "member", `user:${member.userId}`]], { caller: "user" });
    const rev = await t.write([
      ["touch", folder, "owner", `user:${owner.userId}`],
      ["touch", file, "owner", `user:${owner.userId}`],
      ["touch", file, "parent", folder],
      ["touch", file, "viewer", `user:${reader.userId}`],
      ["touch", file, "editor", group],
      ["touch", file, "viewer", `link:${uniqueId("l")}`],
      ["touch", kept, "viewer", `user:${reader.userId}`, new Date(Date.now() + 3_600_000)],
    ]);
    expect(await accessible(reader.headers, 1, rev)).toEqual(expect.arrayContaining([file, kept]));
    expect(await accessible(member.headers, 1, rev)).toContain(file);

    // The file service forgets the file: no explicit tuples needed.
    const gone = await t.write([], { forget: [file] });
    expect(Number(gone)).toBeGreaterThan(Number(rev));
    expect(await naming(file)).toBe(0);
    for (const i of [0, 1]) {
      expect(await accessible(reader.headers, i, gone)).toEqual([kept]);
      expect(await accessible(member.headers, i, gone)).not.toContain(file);
      expect(await t.check(reader.headers, file, "read", { i, minRevision: gone })).toBe(false);
      expect(await t.check(owner.headers, file, "delete", { i, minRevision: gone })).toBe(false);
    }
    // Everything else stays: the folder, the other file's grant, the group's membership.
    expect(await t.check(owner.headers, folder, "delete", { i: 1, minRevision: gone })).toBe(true);
    expect(await naming(group)).toBe(1);
    // Each role tuple forgotten is a revoked grant for the audit log.
    const { rows } = await db.query(
      "SELECT payload FROM acl.outbox WHERE subject = 'filemesh.acl.grant_deleted' ORDER BY seq DESC LIMIT 500",
    );
    const revoked = rows
      .map((r) => eventsv1.GrantDeleted.decode(r.payload))
      .filter((e) => e.resource === file);
    const subjects = revoked.map((e) => (e.subject.startsWith("link:") ? "link" : e.subject));
    expect(subjects.sort()).toEqual([`user:${owner.userId}`, `user:${reader.userId}`, group, "link"].sort());
    expect(revoked.every((e) => e.revision === gone)).toBe(true);
  });

  it("drops a forgotten group's memberships, nestings and the grants to it", async () => {
    const [member, outer] = [await t.mesh.newUser(), await t.mesh.newUser()];
    const [g, parent] = [`group:${uniqueId("g")}`, `group:${uniqueId("g")}`];
    const file = t.newFile().ref;
    await t.write(
      [
        ["touch", g, "member", `user:${member.userId}`],
        ["touch", parent, "member", g],
        ["touch", parent, "member", `user:${outer.userId}`],
      ],
      { caller: "user" },
    );
    const rev = await t.write([["touch", file, "viewer", g]]);
    expect(await t.check(member.headers, file, "read", { i: 1, minRevision: rev })).toBe(true);

    const gone = await t.write([], { caller: "user", forget: [g] });
    expect(await naming(g)).toBe(0);
    for (const i of [0, 1]) {
      expect(await t.check(member.headers, file, "read", { i, minRevision: gone })).toBe(false);
      expect(await accessible(member.headers, i, gone)).not.toContain(file);
    }
    // The other group keeps its own members.
    expect(await naming(parent)).toBe(1);
  });

  it("keeps each service to forgetting its own objects, and checks what it names", async () => {
    const file = t.newFile().ref;
    await t.write([["touch", file, "owner", "user:u-kept"]]);
    const group = `group:${uniqueId("g")}`;
    expect(await failure(t.write([], { caller: "user", forget: [file] }))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "OUT_OF_SCOPE",
    });
    expect(await failure(t.write([], { caller: "file", forget: [group] }))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "OUT_OF_SCOPE",
    });
    const bad = await failure(t.write([], { forget: [file, "user:someone", "file:"] }));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_RELATION" });
    expect(bad.fieldViolations.map((v) => v.field)).toEqual(["forget[1]", "forget[2]"]);
    const many = Array.from({ length: 1001 }, () => t.newFile().ref);
    expect(await failure(t.write([], { forget: many }))).toMatchObject({ reason: "INVALID_UPDATES" });
    // Nothing of the refused writes happened.
    expect(await naming(file)).toBe(1);
    // An empty write still is one: neither updates nor anything to forget.
    const c = t.clients[0]!;
    const empty = permissionv1.WriteRelationsRequest.fromPartial({});
    expect(await failure(call(c.writeRelations.bind(c), empty, t.mesh.serviceHeaders("file")))).toMatchObject(
      {
        reason: "INVALID_UPDATES",
      },
    );
  });
});
