// Every auth change leaves its event in the outbox (relayed to JetStream by the kit).
import { eventsv1 } from "@filemesh/contracts";
import { call, failure, testDatabaseUrl } from "@filemesh/kit/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAdmin } from "../../../scripts/admin.mjs";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

const ADMIN = `events-admin-${Date.now()}@example.com`;
let mesh: TestMesh;
const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["auth"],
    serviceEnv: { auth: { LOGIN_FREE_ATTEMPTS: "2", LOGIN_BACKOFF_BASE: "100ms" } },
  });
});
afterAll(async () => {
  await mesh.stop();
  await db.end();
});

async function eventsFor(userId: string) {
  const { rows } = await db.query<{ subject: string; payload: Buffer }>(
    "SELECT subject, payload FROM auth.outbox WHERE created_at > now() - interval '10 minutes' ORDER BY seq",
  );
  const decoders: Record<string, { decode(b: Buffer): { userId: string } }> = {
    "filemesh.auth.user_registered": eventsv1.UserRegistered,
    "filemesh.auth.session_revoked": eventsv1.SessionRevoked,
    "filemesh.auth.password_changed": eventsv1.PasswordChanged,
    "filemesh.auth.login_throttled": eventsv1.LoginThrottled,
    "filemesh.auth.account_disabled": eventsv1.AccountDisabled,
    "filemesh.auth.account_enabled": eventsv1.AccountEnabled,
  };
  return rows
    .map((r) => ({ subject: r.subject, event: decoders[r.subject]?.decode(r.payload) }))
    .filter((e) => e.event?.userId === userId)
    .map((e) => e.subject.replace("filemesh.auth.", ""));
}

describe("auth events", () => {
  it("records registration, throttling, password change, revocation, disable and enable", async () => {
    await call(mesh.auth.register.bind(mesh.auth), {
      email: ADMIN,
      password: "admin passphrase 1",
      displayName: "A",
    });
    await setAdmin({ databaseUrl: mesh.env.DATABASE_URL }, ADMIN, true);
    const admin = await call(mesh.auth.login.bind(mesh.auth), {
      email: ADMIN,
      password: "admin passphrase 1",
    });
    const ah = { authorization: `Bearer ${admin.accessToken}` };
    const u = await mesh.newUser();
    // A client address of its own: failed-login counters live in the shared Redis.
    const xff = {
      "x-forwarded-for": `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    };
    for (let i = 0; i < 3; i++) {
      await failure(call(mesh.auth.login.bind(mesh.auth), { email: u.email, password: "wrong wrong" }, xff));
    }
    await new Promise((r) => setTimeout(r, 300)); // let the 100 ms throttle delay pass
    await call(
      mesh.auth.changePassword.bind(mesh.auth),
      { currentPassword: u.password, newPassword: "fresh passphrase 9" },
      { ...u.headers, ...xff },
    );
    await call(mesh.auth.logout.bind(mesh.auth), { allSessions: false }, u.headers);
    await call(mesh.auth.disableUser.bind(mesh.auth), { userId: u.userId, reason: "test" }, ah);
    await call(mesh.auth.enableUser.bind(mesh.auth), { userId: u.userId }, ah);
    expect(await eventsFor(u.userId)).toEqual([
      "user_registered",
      "login_throttled",
      "password_changed",
      "session_revoked",
      "account_disabled",
      "account_enabled",
    ]);
  });
});
