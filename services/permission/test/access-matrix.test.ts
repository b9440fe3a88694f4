// docs/reliability.md "Access control" for the grant RPCs: every caller kind × every grant RPC,
// only the allowed cells succeed, a denial looks the same whether the file exists or not,
// fields a caller must not set are ignored or refused.
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AclMesh, startAclMesh } from "./acl-mesh.js";

type Caller = "owner" | "editor" | "viewer" | "member" | "stranger" | "expired" | "linkHolder" | "anonymous";
type User = Awaited<ReturnType<AclMesh["mesh"]["newUser"]>>;

let t: AclMesh;
const u = {} as Record<Exclude<Caller, "anonymous"> | "owner2" | "target", User>;
let group = "";
const HOUR = 3_600_000;

beforeAll(async () => {
  t = await startAclMesh({ replicas: 2 });
  const names = [
    "owner",
    "owner2",
    "editor",
    "viewer",
    "member",
    "stranger",
    "expired",
    "linkHolder",
    "target",
  ];
  const made = await Promise.all(names.map(() => t.mesh.newUser()));
  names.forEach((n, i) => {
    u[n as keyof typeof u] = made[i]!;
  });
  // The member is in a group nested in the group that gets the grant.
  group = `group:${t.newFile().id}`;
  const inner = `group:${t.newFile().id}`;
  await t.write(
    [
      ["touch", group, "member", inner],
      ["touch", inner, "member", `user:${u.member.userId}`],
    ],
    { caller: "user" },
  );
});
afterAll(() => t.stop());

const headers = (c: Caller) => (c === "anonymous" ? {} : u[c].headers);

/** A file in a folder: owners, an editor on the folder, a viewer, the group (editor), an expired editor, a link. */
async function scene() {
  const folder = t.newFile();
  const f = t.newFile();
  const user = (k: keyof typeof u) => `user:${u[k].userId}`;
  await t.write([
    ["touch", f.ref, "parent", folder.ref],
    ["touch", f.ref, "owner", user("owner")],
    ["touch", f.ref, "owner", user("owner2")],
    ["touch", folder.ref, "editor", user("editor")],
    ["touch", f.ref, "viewer", user("viewer")],
    ["touch", f.ref, "editor", group],
    ["touch", f.ref, "editor", user("expired"), new Date(Date.now() - HOUR)],
    ["touch", f.ref, "viewer", `link:${t.newFile().id}`],
  ]);
  const { grants } = await t.listGrants(u.owner.headers, f.id);
  const grantOf = (k: keyof typeof u) => grants.find((g) => g.subject === user(k))!;
  return { f, viewerGrant: grantOf("viewer"), owner2Grant: grantOf("owner2") };
}

const sharers: Caller[] = ["owner", "editor", "member"];
const callers: Caller[] = [
  "owner",
  "editor",
  "viewer",
  "member",
  "stranger",
  "expired",
  "linkHolder",
  "anonymous",
];
const denied = (c: Caller) =>
  c === "anonymous"
    ? { code: status.UNAUTHENTICATED, reason: "MISSING_TOKEN" }
    : { code: status.PERMISSION_DENIED, reason: "ACCESS_DENIED" };

describe.each(callers)("as %s", (c) => {
  const may = sharers.includes(c);
  const isOwner = c === "owner";

  it(`${may ? "can" : "cannot"} share as viewer`, async () => {
    const { f } = await scene();
    const p = t.createGrant(
      headers(c),
      f.id,
      { subject: `user:${u.target.userId}`, role: "viewer" },
      { i: 1 },
    );
    if (!may) {
      expect(await failure(p)).toMatchObject(denied(c));
      expect(await t.check(u.target.headers, f.ref, "read")).toBe(false);
      return;
    }
    const g = await p;
    expect(g).toMatchObject({ resource: f.ref, subject: `user:${u.target.userId}`, role: "viewer" });
    expect(await t.check(u.target.headers, f.ref, "read", { minRevision: g.revision })).toBe(true);
  });

  it(`${isOwner ? "can" : "cannot"} make an owner`, async () => {
    const { f } = await scene();
    const p = t.createGrant(headers(c), f.id, { subject: `user:${u.target.userId}`, role: "owner" });
    if (isOwner) expect((await p).role).toBe("owner");
    else
      expect(await failure(p)).toMatchObject(
        may ? { code: status.PERMISSION_DENIED, reason: "OWNER_REQUIRED" } : denied(c),
      );
  });

  it(`${may ? "can" : "cannot"} list grants`, async () => {
    const { f } = await scene();
    const p = t.listGrants(headers(c), f.id, { i: 1 });
    if (!may) return void expect(await failure(p)).toMatchObject(denied(c));
    const subjects = (await p).grants.map((g) => g.subject);
    expect(subjects).toContain(`user:${u.viewer.userId}`);
    expect(subjects).toContain(group);
    // Expired grants are not listed.
    expect(subjects).not.toContain(`user:${u.expired.userId}`);
  });

  it(`${may ? "can" : "cannot"} remove a viewer's grant`, async () => {
    const { f, viewerGrant } = await scene();
    const p = t.deleteGrant(headers(c), f.id, viewerGrant.id, 1);
    if (!may) {
      expect(await failure(p)).toMatchObject(denied(c));
      expect(await t.check(u.viewer.headers, f.ref, "read")).toBe(true);
      return;
    }
    expect(await t.check(u.viewer.headers, f.ref, "read", { minRevision: await p })).toBe(false);
  });

  it(`${isOwner ? "can" : "cannot"} remove an owner's grant`, async () => {
    const { f, owner2Grant } = await scene();
    const p = t.deleteGrant(headers(c), f.id, owner2Grant.id);
    if (isOwner) return void expect(Number(await p)).toBeGreaterThan(0);
    expect(await failure(p)).toMatchObject(
      may ? { code: status.PERMISSION_DENIED, reason: "OWNER_REQUIRED" } : denied(c),
    );
  });
});

describe("grant rules", () => {
  it("denies a stranger alike whether the file exists or not", async () => {
    const { f } = await scene();
    const real = await failure(t.listGrants(u.stranger.headers, f.id));
    const none = await failure(t.listGrants(u.stranger.headers, t.newFile().id));
    expect(none).toEqual(real);
    const grant = { subject: `user:${u.target.userId}`, role: "viewer" };
    expect(await failure(t.createGrant(u.stranger.headers, t.newFile().id, grant))).toEqual(
      await failure(t.createGrant(u.stranger.headers, f.id, grant)),
    );
  });

  it("refuses changing one's own role, downgrading an owner as editor, and removing the last owner", async () => {
    const { f } = await scene();
    const self = (k: "editor" | "owner", role: string) =>
      failure(t.createGrant(u[k].headers, f.id, { subject: `user:${u[k].userId}`, role }));
    expect(await self("editor", "owner")).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "OWN_ROLE",
    });
    expect(await self("owner", "viewer")).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "OWN_ROLE",
    });
    const downgrade = t.createGrant(u.editor.headers, f.id, {
      subject: `user:${u.owner2.userId}`,
      role: "viewer",
    });
    expect(await failure(downgrade)).toMatchObject({ reason: "OWNER_REQUIRED" });
    const { grants } = await t.listGrants(u.owner.headers, f.id);
    const owners = grants.filter((g) => g.role === "owner");
    await t.deleteGrant(
      u.owner.headers,
      f.id,
      owners.find((g) => g.subject !== `user:${u.owner.userId}`)!.id,
    );
    const mine = owners.find((g) => g.subject === `user:${u.owner.userId}`)!;
    expect(await failure(t.deleteGrant(u.owner.headers, f.id, mine.id))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "LAST_OWNER",
    });
  });

  it("ignores id, resource, revision, create time and creator set by the caller", async () => {
    const { f } = await scene();
    const g = await t.createGrant(u.owner.headers, f.id, {
      id: "00000000-0000-4000-8000-000000000001",
      resource: "file:someone-elses",
      subject: `user:${u.target.userId}`,
      role: "editor",
      revision: "999999999",
      createTime: new Date(0),
      creator: `user:${u.stranger.userId}`,
    });
    expect(g.id).not.toBe("00000000-0000-4000-8000-000000000001");
    expect(g).toMatchObject({ resource: f.ref, creator: `user:${u.owner.userId}` });
    expect(Number(g.revision)).toBeLessThan(999999999);
    expect(g.createTime!.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it.each([
    [{ subject: "link:abc", role: "viewer" }, "grant.subject"],
    [{ subject: "file:abc", role: "viewer" }, "grant.subject"],
    [{ subject: "user:../x", role: "viewer" }, "grant.subject"],
    [{ subject: "user:abc", role: "admin" }, "grant.role"],
    [{ subject: "user:abc", role: "" }, "grant.role"],
    [{ subject: "user:abc", role: "viewer", expireTime: new Date(Date.now() - 1000) }, "grant.expire_time"],
  ])("refuses %j with a field violation on %s", async (grant, field) => {
    const { f } = await scene();
    const err = await failure(t.createGrant(u.owner.headers, f.id, grant));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_GRANT" });
    expect(err.fieldViolations.map((v) => v.field)).toContain(field);
  });

  it("refuses a malformed file id", async () => {
    const err = await failure(t.listGrants(u.owner.headers, "../etc"));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_RESOURCE" });
  });
});
