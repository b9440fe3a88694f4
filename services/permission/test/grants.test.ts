// Grants across replicas: a grant made on replica A is visible on replica B at once with the
// revision it returned (and so is a revocation); the basics of CreateGrant/ListGrants/DeleteGrant.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AclMesh, startAclMesh } from "./acl-mesh.js";

let t: AclMesh;
beforeAll(async () => {
  t = await startAclMesh({ replicas: 2 });
});
afterAll(() => t.stop());

describe("read-your-writes across replicas", () => {
  it("allows on replica B at once with the revision of a grant made on replica A, and denies after a revoke", async () => {
    const owner = await t.mesh.newUser();
    const friend = await t.mesh.newUser();
    const f = t.newFile();
    await t.write([["touch", f.ref, "owner", `user:${owner.userId}`]]);
    for (let round = 0; round < 20; round++) {
      const g = await t.createGrant(
        owner.headers,
        f.id,
        { subject: `user:${friend.userId}`, role: "viewer" },
        { i: 0 },
      );
      expect(await t.check(friend.headers, f.ref, "read", { i: 1, minRevision: g.revision })).toBe(true);
      const rev = await t.deleteGrant(owner.headers, f.id, g.id, 0);
      expect(await t.check(friend.headers, f.ref, "read", { i: 1, minRevision: rev })).toBe(false);
    }
  });
});

describe("min_revision on a replica whose stream is cut", () => {
  it("catches up from Postgres at once when asked for a revision, and is stale without it", async () => {
    // Replica 1 reads another stream (a different key prefix) and polls Postgres only every 20 s.
    await t.restart(1, { ACL_KEY_PREFIX: "fm:acl-cut", ACL_POLL_INTERVAL: "20s", ACL_MAX_STALENESS: "60s" });
    try {
      const owner = await t.mesh.newUser();
      const friend = await t.mesh.newUser();
      const f = t.newFile();
      await t.write([["touch", f.ref, "owner", `user:${owner.userId}`]], { i: 0 });
      const g = await t.createGrant(
        owner.headers,
        f.id,
        { subject: `user:${friend.userId}`, role: "editor" },
        { i: 0 },
      );
      // Without the token the lagging replica answers from what it has (the documented bound).
      expect(await t.check(friend.headers, f.ref, "write", { i: 1 })).toBe(false);
      expect(await t.check(friend.headers, f.ref, "write", { i: 1, minRevision: g.revision })).toBe(true);
      const rev = await t.deleteGrant(owner.headers, f.id, g.id, 0);
      expect(await t.check(friend.headers, f.ref, "write", { i: 1 })).toBe(true);
      expect(await t.check(friend.headers, f.ref, "write", { i: 1, minRevision: rev })).toBe(false);
    } finally {
      await t.restart(1);
    }
  });
});
