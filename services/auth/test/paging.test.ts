// ListSessions and ListUsers page through the kit's paging: page sizes per AIP-158 (0 → 50,
// above 1,000 → 1,000, negative refused) and signed tokens bound to the list, caller and filter.
import { randomBytes } from "node:crypto";
import { call, failure, testDatabaseUrl, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

let mesh: TestMesh;
const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
beforeAll(async () => {
  mesh = await startTestMesh({ services: ["auth"] });
});
afterAll(async () => {
  await mesh.stop();
  await db.end();
});

const badToken = { code: status.INVALID_ARGUMENT, reason: "INVALID_PAGE_TOKEN" };
const sessions = (headers: Record<string, string>, pageSize: number, pageToken = "") =>
  call(mesh.auth.listSessions.bind(mesh.auth), { pageSize, pageToken }, headers);
const users = (headers: Record<string, string>, emailPrefix: string, pageSize: number, pageToken = "") =>
  call(mesh.auth.listUsers.bind(mesh.auth), { pageSize, pageToken, emailPrefix }, headers);
const login = async (email: string, password: string) => {
  const res = await call(mesh.auth.login.bind(mesh.auth), { email, password });
  return { authorization: `Bearer ${res.accessToken}` };
};

describe("ListSessions paging", () => {
  it("clamps huge page sizes, refuses negative ones, and takes only its own signed tokens", async () => {
    const [u, other] = [await mesh.newUser(), await mesh.newUser()];
    await login(u.email, u.password);
    await login(u.email, u.password);
    expect((await sessions(u.headers, 2147483647)).sessions).toHaveLength(3);
    expect(await failure(sessions(u.headers, -1))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_PAGE_SIZE",
    });
    const first = await sessions(u.headers, 1);
    expect(first.sessions).toHaveLength(1);
    const rest = await sessions(u.headers, 10, first.nextPageToken);
    expect(rest.sessions).toHaveLength(2);
    expect(rest.nextPageToken).toBe("");
    // The unsigned offset this list used to issue, and another user's token, are refused.
    const offset = Buffer.from("1").toString("base64url");
    expect(await failure(sessions(u.headers, 1, offset))).toMatchObject(badToken);
    expect(await failure(sessions(other.headers, 1, first.nextPageToken))).toMatchObject(badToken);
    expect(await failure(sessions(u.headers, 1, "!!not-base64!!"))).toMatchObject(badToken);
  });
});

describe("ListUsers paging", () => {
  it("clamps sizes over 1,000 and binds its tokens to the admin and the email prefix", async () => {
    const prefix = `${uniqueId("pg")}-`;
    const password = `pw-${randomBytes(12).toString("hex")}`;
    const emails = ["a", "b", "c"].map((s) => `${prefix}${s}@example.com`);
    for (const email of emails) {
      await call(mesh.auth.register.bind(mesh.auth), { email, password, displayName: "p" });
    }
    const [admin, otherAdmin] = [await mesh.newUser(), await mesh.newUser()];
    await db.query("UPDATE auth.accounts SET admin = true WHERE id = ANY($1)", [
      [admin.userId, otherAdmin.userId],
    ]);
    const [a, b] = [
      await login(admin.email, admin.password),
      await login(otherAdmin.email, otherAdmin.password),
    ];

    const all = await users(a, prefix, 1001);
    expect(all.users.map((x) => x.email)).toEqual(emails);
    const first = await users(a, prefix, 1);
    expect(first.users.map((x) => x.email)).toEqual(emails.slice(0, 1));
    const rest = await users(a, prefix, 5, first.nextPageToken);
    expect(rest.users.map((x) => x.email)).toEqual(emails.slice(1));
    // The email cursor this list used to issue, another prefix, another admin: refused.
    const cursor = Buffer.from(emails[1]!).toString("base64url");
    expect(await failure(users(a, prefix, 1, cursor))).toMatchObject(badToken);
    expect(await failure(users(a, "", 1, first.nextPageToken))).toMatchObject(badToken);
    expect(await failure(users(b, prefix, 1, first.nextPageToken))).toMatchObject(badToken);
  });
});
