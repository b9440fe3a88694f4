// Grants across replicas: a grant made on replica A is visible on replica B at once with the
// revision it returned (and so is a revocation); the basics of CreateGrant/ListGrants/DeleteGrant.
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
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

describe("DeleteGrant retried", () => {
  it("answers a delete retried after it committed with its revision; others still get GRANT_NOT_FOUND", async () => {
    const users = await Promise.all([1, 2, 3].map(() => t.mesh.newUser()));
    const [owner, coOwner, friend] = [users[0]!, users[1]!, users[2]!];
    const [f, other] = [t.newFile(), t.newFile()];
    await t.write([
      ["touch", f.ref, "owner", `user:${owner.userId}`],
      ["touch", f.ref, "owner", `user:${coOwner.userId}`],
      ["touch", other.ref, "owner", `user:${owner.userId}`],
    ]);
    const g = await t.createGrant(owner.headers, f.id, { subject: `user:${friend.userId}`, role: "viewer" });
    const rev = await t.deleteGrant(owner.headers, f.id, g.id, 0);
    // The retry (its first answer lost), on either replica, in either case of the id.
    expect(await t.deleteGrant(owner.headers, f.id, g.id, 1)).toBe(rev);
    expect(await t.deleteGrant(owner.headers, f.id, g.id.toUpperCase(), 0)).toBe(rev);
    expect(await t.check(friend.headers, f.ref, "read", { i: 1, minRevision: rev })).toBe(false);
    // Not a replay for anyone else, nor through another file.
    const notFound = { code: status.NOT_FOUND, reason: "GRANT_NOT_FOUND" };
    expect(await failure(t.deleteGrant(coOwner.headers, f.id, g.id, 0))).toMatchObject(notFound);
    expect(await failure(t.deleteGrant(owner.headers, other.id, g.id, 0))).toMatchObject(notFound);
    // A grant made again is a new grant, deleted anew.
    const again = await t.createGrant(owner.headers, f.id, {
      subject: `user:${friend.userId}`,
      role: "viewer",
    });
    expect(again.id).not.toBe(g.id);
    expect(Number(await t.deleteGrant(owner.headers, f.id, again.id, 1))).toBeGreaterThan(Number(rev));
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
