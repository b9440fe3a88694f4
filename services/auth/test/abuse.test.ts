// Brute force, load shedding, rate limits and admin disable (docs/reliability.md, "Auth and sessions").

import { authv1 } from "@filemesh/contracts";
import { call, failure } from "@filemesh/kit/testing";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAdmin } from "../../../scripts/admin.mjs";
import { checkHealth } from "../../../scripts/lib/health.mjs";
import { authOutcome, startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

const ADMIN = `admin-${Date.now()}@example.com`;
let mesh: TestMesh;
beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["auth", "file"],
    serviceEnv: {
      auth: { LOGIN_FREE_ATTEMPTS: "3", LOGIN_BACKOFF_BASE: "1500ms" },
      file: { RATE_LIMITS: "read=2/1m" },
    },
  });
});
afterAll(() => mesh.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const login = (email: string, password: string, headers: Record<string, string> = {}) =>
  call(mesh.auth.login.bind(mesh.auth), { email, password }, headers);

describe("brute-force protection", () => {
  it("throttles well before 100 failures, with growing delays, and lets the right password in after the cool-down", async () => {
    const u = await mesh.newUser();
    const xff = {
      "x-forwarded-for": `198.19.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    };
    for (let i = 0; i < 4; i++) {
      expect((await failure(login(u.email, "wrong password", xff))).reason).toBe("INVALID_CREDENTIALS");
    }
    const throttled = await failure(login(u.email, u.password, xff));
    expect(throttled).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "LOGIN_THROTTLED" });
    expect(throttled.retryAfterMs).toBeGreaterThan(0);
    await sleep(throttled.retryAfterMs! + 50);
    expect((await failure(login(u.email, "wrong again", xff))).reason).toBe("INVALID_CREDENTIALS");
    const longer = await failure(login(u.email, u.password, xff));
    expect(longer.reason).toBe("LOGIN_THROTTLED");
    expect(longer.retryAfterMs!).toBeGreaterThan(throttled.retryAfterMs!);
    await sleep(longer.retryAfterMs! + 50);
    await expect(login(u.email, u.password, xff)).resolves.toHaveProperty("accessToken");
  });

  it("throttles unknown accounts exactly like known ones (no enumeration)", async () => {
    const ghost = `ghost-${Date.now()}@example.com`;
    const xff = {
      "x-forwarded-for": `198.19.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    };
    for (let i = 0; i < 4; i++) await failure(login(ghost, "whatever it is", xff));
    expect((await failure(login(ghost, "whatever it is", xff))).reason).toBe("LOGIN_THROTTLED");
  });
});

describe("load shedding", () => {
  it("sheds excess logins with RESOURCE_EXHAUSTED + RetryInfo while health keeps answering", async () => {
    const shedMesh = await startTestMesh({
      services: ["auth"],
      serviceEnv: { auth: { BCRYPT_COST: "12", HASH_CONCURRENCY: "1", HASH_QUEUE: "2" } },
      env: { LOGIN_FREE_ATTEMPTS: "100" },
    });
    try {
      const u = await shedMesh.newUser();
      const client = new authv1.AuthServiceClient(shedMesh.addr("auth"), credentials.createInsecure());
      const attempts = Array.from({ length: 12 }, () =>
        call(client.login.bind(client), { email: u.email, password: u.password }).then(
          () => "ok",
          (e) => e,
        ),
      );
      expect(await checkHealth(shedMesh.addr("auth"), "", 5_000)).toBe("SERVING");
      const results = await Promise.all(attempts);
      const shed = results.filter((r) => r !== "ok");
      expect(results.filter((r) => r === "ok").length).toBeGreaterThanOrEqual(1);
      expect(shed.length).toBeGreaterThanOrEqual(6);
      const err = await failure(Promise.reject(shed[0]));
      expect(err).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "LOGIN_OVERLOADED" });
      expect(err.retryAfterMs).toBeGreaterThan(0);
      client.close();
    } finally {
      await shedMesh.stop();
    }
  });
});

describe("rate limits", () => {
  it("answers RESOURCE_EXHAUSTED with RetryInfo past the limit of a rate class", async () => {
    const u = await mesh.newUser();
    const usage = (headers: Record<string, string>) => call(mesh.file.getUsage.bind(mesh.file), {}, headers);
    // read=2/1m with no burst: one call now, the next ~30 s later.
    expect(await authOutcome(usage(u.headers))).toBe("PASSED");
    const limited = await failure(usage(u.headers));
    expect(limited).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "RATE_LIMITED" });
    expect(limited.retryAfterMs).toBeGreaterThan(20_000);
    // Limits are per caller: someone else is not affected.
    const v = await mesh.newUser();
    expect(await authOutcome(usage(v.headers))).toBe("PASSED");
  });
});

describe("admin", () => {
  it("lists users; disabling an account ends its sessions at once and blocks login until re-enabled", async () => {
    await call(mesh.auth.register.bind(mesh.auth), {
      email: ADMIN,
      password: "admin passphrase 1",
      displayName: "Admin",
    });
    await setAdmin({ databaseUrl: mesh.env.DATABASE_URL }, ADMIN, true);
    const admin = await login(ADMIN, "admin passphrase 1");
    const ah = { authorization: `Bearer ${admin.accessToken}` };
    const u = await mesh.newUser();
    const notAdmin = await failure(
      call(mesh.auth.listUsers.bind(mesh.auth), { pageSize: 5, pageToken: "", emailPrefix: "" }, u.headers),
    );
    expect(notAdmin).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ADMIN_REQUIRED" });
    const listed = await call(
      mesh.auth.listUsers.bind(mesh.auth),
      { pageSize: 5, pageToken: "", emailPrefix: u.email },
      ah,
    );
    expect(listed.users.map((x) => x.id)).toEqual([u.userId]);
    const res = await call(mesh.auth.disableUser.bind(mesh.auth), { userId: u.userId, reason: "abuse" }, ah);
    expect(res).toMatchObject({ endedSessions: 1, user: { disabled: true } });
    await sleep(1_100);
    expect(
      (await failure(call(mesh.auth.listSessions.bind(mesh.auth), { pageSize: 0, pageToken: "" }, u.headers)))
        .reason,
    ).toBe("SESSION_ENDED");
    expect((await failure(login(u.email, u.password))).reason).toBe("ACCOUNT_DISABLED");
    await call(mesh.auth.enableUser.bind(mesh.auth), { userId: u.userId }, ah);
    await expect(login(u.email, u.password)).resolves.toHaveProperty("accessToken");
    const missing = await failure(
      call(mesh.auth.disableUser.bind(mesh.auth), { userId: "not-a-uuid", reason: "" }, ah),
    );
    expect(missing).toMatchObject({ code: status.NOT_FOUND, reason: "ACCOUNT_NOT_FOUND" });
  });
});
