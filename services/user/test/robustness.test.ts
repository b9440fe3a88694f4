// Random input on every UserService method (fast-check): odd strings, any int32, near-valid
// ids and subjects. The answer is a success or a client error — never INTERNAL or UNKNOWN, and
// the service keeps answering.
import { randomUUID } from "node:crypto";
import { call, failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startUserMesh, type UserTestMesh } from "./start-user.js";

let t: UserTestMesh;
let h: Record<string, string>;
let group: string;
beforeAll(async () => {
  t = await startUserMesh();
  const a = await t.mesh.newUser();
  h = a.headers;
  group = (await t.u.createGroup({ name: "fuzz" }, h)).group!.id;
});
afterAll(() => t.stop());

const ALLOWED = new Set([
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.PERMISSION_DENIED,
  status.FAILED_PRECONDITION,
  status.ALREADY_EXISTS,
]);

const text = () =>
  fc.oneof(
    fc.string({ unit: "binary", maxLength: 300 }),
    fc.constantFrom("", " ", "user:", "group:", "*", "../../etc", "\u0000", "a".repeat(5000), "%00"),
    fc.uuid().map((u) => u),
    fc.uuid().map((u) => `user:${u}`),
    fc.constant(`group:${randomUUID()}`),
  );
const int32 = () => fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });

it("answers random requests to every method without INTERNAL", async () => {
  const c = t.mesh.user;
  const user = fc.record({
    id: text(),
    email: text(),
    displayName: text(),
    avatarUrl: text(),
    bio: text(),
    homeFolderId: text(),
  });
  const groupMsg = fc.record({ id: text(), name: text(), description: text(), myRole: text() });
  const gid = fc.oneof(text(), fc.constant(group));
  const cases = fc.oneof(
    fc.record({ m: fc.constant("getUser"), r: fc.record({ userId: text() }) }),
    fc.record({ m: fc.constant("lookupUser"), r: fc.record({ email: text() }) }),
    fc.record({
      m: fc.constant("updateMe"),
      r: fc.record({ user, updateMask: fc.array(text(), { maxLength: 20 }) }),
    }),
    fc.record({ m: fc.constant("createGroup"), r: fc.record({ group: groupMsg, requestId: text() }) }),
    fc.record({ m: fc.constant("getGroup"), r: fc.record({ groupId: gid }) }),
    fc.record({ m: fc.constant("listGroups"), r: fc.record({ pageSize: int32(), pageToken: text() }) }),
    fc.record({ m: fc.constant("deleteGroup"), r: fc.record({ groupId: text() }) }),
    fc.record({
      m: fc.constant("addGroupMember"),
      r: fc.record({ groupId: gid, member: text(), role: text(), requestId: text() }),
    }),
    fc.record({
      m: fc.constant("listGroupMembers"),
      r: fc.record({ groupId: gid, pageSize: int32(), pageToken: text() }),
    }),
    fc.record({ m: fc.constant("removeGroupMember"), r: fc.record({ groupId: gid, memberId: text() }) }),
  );
  await fc.assert(
    fc.asyncProperty(cases, async ({ m, r }) => {
      const fn = (c as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(c);
      const code = await call(fn as never, r, h).then(
        () => status.OK,
        async (e) => (await failure(Promise.reject(e))).code,
      );
      expect(ALLOWED, `${m} answered ${status[code]}`).toContain(code);
    }),
    { numRuns: 400 },
  );
  // Still serving, and the fuzzed caller's group is intact.
  expect((await t.u.getGroup(group, h)).group?.name).toBe("fuzz");
});
