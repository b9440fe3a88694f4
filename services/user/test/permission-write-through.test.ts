// Against the real permission service (two replicas; the user service balances its writes
// over both): the revision a membership change answers is honoured by Check with
// min_revision on either replica — added members get access at once, removed ones lose it.
import { randomUUID } from "node:crypto";
import { permissionv1 } from "@filemesh/contracts";
import { call } from "@filemesh/kit/testing";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startUserMesh, type UserTestMesh } from "./start-user.js";

let t: UserTestMesh;
let replicas: permissionv1.PermissionServiceClient[];
beforeAll(async () => {
  t = await startUserMesh({ realPermission: true, permissionReplicas: 2 });
  replicas = [0, 1].map(
    (i) =>
      new permissionv1.PermissionServiceClient(t.mesh.addr("permission", i), credentials.createInsecure()),
  );
});
afterAll(async () => {
  for (const r of replicas) r.close();
  await t.stop();
});

/** A file shared with the group as viewer (written as the file service would). */
async function fileSharedWith(groupId: string): Promise<string> {
  const file = `file:${randomUUID()}`;
  const c = replicas[0]!;
  const relation = { object: file, relation: "viewer", subject: `group:${groupId}` };
  const { RELATION_OPERATION_TOUCH: TOUCH } = permissionv1.RelationOperation;
  await call(
    c.writeRelations.bind(c),
    { updates: [{ operation: TOUCH, relation }], requestId: "", forget: [] },
    t.mesh.serviceHeaders("file"),
  );
  return file;
}

const canRead = async (h: Record<string, string>, resource: string, minRevision: string, replica: number) => {
  const c = replicas[replica]!;
  const res = await call(c.check.bind(c), { subject: "", resource, permission: "read", minRevision }, h);
  return res.allowed;
};

it("grants through direct and nested membership at the answered revision, and revokes likewise", async () => {
  const [admin, direct, nested] = await Promise.all([1, 2, 3].map(() => t.mesh.newUser()));
  const g = (await t.u.createGroup({ name: "readers" }, admin!.headers)).group!.id;
  const sub = (await t.u.createGroup({ name: "sub-readers" }, admin!.headers)).group!.id;
  const file = await fileSharedWith(g);

  for (let round = 0; round < 4; round++) {
    const replica = round % 2;
    const added = await t.u.addMember(g, `user:${direct!.userId}`, admin!.headers);
    expect(await canRead(direct!.headers, file, added.revision, replica)).toBe(true);
    const removed = await t.u.removeMember(g, direct!.userId, admin!.headers);
    expect(Number(removed.revision)).toBeGreaterThan(Number(added.revision));
    expect(await canRead(direct!.headers, file, removed.revision, 1 - replica)).toBe(false);
  }

  await t.u.addMember(sub, `user:${nested!.userId}`, admin!.headers);
  const nestedIn = await t.u.addMember(g, `group:${sub}`, admin!.headers);
  expect(await canRead(nested!.headers, file, nestedIn.revision, 1)).toBe(true);
  // The creator is a member through the admin role.
  expect(await canRead(admin!.headers, file, nestedIn.revision, 0)).toBe(true);

  const gone = await t.u.deleteGroup(g, admin!.headers);
  for (const u of [admin!, nested!]) expect(await canRead(u.headers, file, gone.revision, 1)).toBe(false);
});

it("keeps a demoted admin a member in the permission service", async () => {
  const [admin, other] = await Promise.all([1, 2].map(() => t.mesh.newUser()));
  const g = (await t.u.createGroup({ name: "roles" }, admin!.headers)).group!.id;
  const file = await fileSharedWith(g);
  await t.u.addMember(g, `user:${other!.userId}`, admin!.headers, "admin");
  const demoted = await t.u.addMember(g, `user:${other!.userId}`, admin!.headers, "member");
  expect(await canRead(other!.headers, file, demoted.revision, 1)).toBe(true);
});
