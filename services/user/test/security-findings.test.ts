// Findings of the security review (docs/security.md) fixed in the user service, against the
// real permission service: a deleted group leaves no tuple behind — not its memberships, not
// its place in other groups, and not the grants made to it on files (ListGrants showed them).
import { randomUUID } from "node:crypto";
import { permissionv1 } from "@filemesh/contracts";
import { call, testDatabaseUrl } from "@filemesh/kit/testing";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startUserMesh, type UserTestMesh } from "./start-user.js";

let t: UserTestMesh;
const acl = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
beforeAll(async () => {
  t = await startUserMesh({ realPermission: true });
});
afterAll(async () => {
  await t.stop();
  await acl.end();
});

const { RELATION_OPERATION_TOUCH: TOUCH } = permissionv1.RelationOperation;

it("deleting a group deletes every tuple naming it, grants to it on files included", async () => {
  const [admin, member] = [await t.mesh.newUser(), await t.mesh.newUser()];
  const g = (await t.u.createGroup({ name: "leaving" }, admin.headers)).group!.id;
  const outer = (await t.u.createGroup({ name: "outer" }, admin.headers)).group!.id;
  await t.u.addMember(g, `user:${member.userId}`, admin.headers);
  await t.u.addMember(outer, `group:${g}`, admin.headers);
  // A file of the admin's, shared with the group (written as the file service would).
  const fileId = randomUUID();
  const p = t.mesh.permission;
  await call(
    p.writeRelations.bind(p),
    {
      updates: [
        {
          operation: TOUCH,
          relation: { object: `file:${fileId}`, relation: "owner", subject: `user:${admin.userId}` },
        },
        {
          operation: TOUCH,
          relation: { object: `file:${fileId}`, relation: "viewer", subject: `group:${g}` },
        },
      ],
      requestId: "",
      forget: [],
      fencingToken: "0",
    },
    t.mesh.serviceHeaders("file"),
  );
  const grants = async (minRevision: string) =>
    (
      await call(p.listGrants.bind(p), { fileId, pageSize: 0, pageToken: "", minRevision }, admin.headers)
    ).grants.map((x) => x.subject);
  expect(await grants("")).toContain(`group:${g}`);

  const { revision } = await t.u.deleteGroup(g, admin.headers);
  expect(await grants(revision)).toEqual([`user:${admin.userId}`]);
  const left = await acl.query(
    "SELECT object, relation, subject FROM acl.tuples WHERE object = $1 OR subject = $1",
    [`group:${g}`],
  );
  expect(left.rows).toEqual([]);
  const check = await call(
    p.check.bind(p),
    { subject: "", resource: `file:${fileId}`, permission: "read", minRevision: revision },
    member.headers,
  );
  expect(check.allowed).toBe(false);
  // The other group and its own tuples stay.
  expect((await t.u.getGroup(outer, admin.headers)).group?.id).toBe(outer);
});
