// REST conformance: auth routes and the gateway's own behaviour (docs/architecture.md §7).
import { createPublicKey, type JsonWebKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAdmin } from "../../scripts/admin.mjs";
import { reasonOf, rest, startTarget, type Target } from "./target.js";

const ADMIN = `rest-admin-${Date.now()}@example.com`;
let t: Target;
beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission", "file", "processor"],
    serviceEnv: { auth: { LOGIN_FREE_ATTEMPTS: "100" } },
  });
});
afterAll(() => t.stop());

const email = () => `rest-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
const PASSWORD = "a long rest passphrase";
const post = (path: string, body: unknown, headers?: Record<string, string>) =>
  rest(t.base, "POST", path, body, headers);
async function signup() {
  const e = email();
  const reg = await post("/v1/auth:register", { email: e, password: PASSWORD, displayName: "Rest User" });
  expect(reg.status).toBe(200);
  const login = await post("/v1/auth:login", { email: e, password: PASSWORD });
  expect(login.status).toBe(200);
  return {
    email: e,
    user: reg.body.user,
    ...login.body,
    auth: { authorization: `Bearer ${login.body.accessToken}` },
  };
}

describe("gateway", () => {
  it("GET /healthz is 200 when every service is SERVING", async () => {
    const res = await rest(t.base, "GET", "/healthz");
    expect(res.status).toBe(200);
  });

  it("unknown routes are 404 with a google.rpc.Status body", async () => {
    const res = await rest(t.base, "GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 5 });
  });

  it("malformed JSON is 400 with a clear message; unknown fields too", async () => {
    const bad = await post("/v1/auth:login", '{"email": "x@example.com", "password":');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(3);
    expect(typeof bad.body.message).toBe("string");
    const unknown = await post("/v1/auth:login", {
      email: "x@example.com",
      password: "whatever",
      isAdmin: true,
    });
    expect(unknown.status).toBe(400);
  });

  it("refuses bodies over the limit with 413", async () => {
    const res = await post("/v1/auth:register", {
      email: "a@example.com",
      password: "x".repeat(2 * 1024 * 1024),
    });
    expect(res.status).toBe(413);
  });

  it("sets a request id when absent and keeps a given one", async () => {
    const a = await rest(t.base, "GET", "/v1/auth/jwks");
    expect(a.headers.get("x-request-id")).toMatch(/.{8,}/);
    const b = await rest(t.base, "GET", "/v1/auth/jwks", undefined, { "x-request-id": "conformance-123" });
    expect(b.headers.get("x-request-id")).toBe("conformance-123");
  });
});

describe("auth routes", () => {
  it("POST /v1/auth:register → {user}; duplicate → 409; bad input → 400 with field violations", async () => {
    const e = email();
    const ok = await post("/v1/auth:register", { email: e, password: PASSWORD, displayName: "Ada" });
    expect(ok.status).toBe(200);
    expect(ok.body.user).toMatchObject({ email: e, displayName: "Ada" });
    expect(ok.body.user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(ok.body.user.createTime)).not.toBeNaN();
    const dup = await post("/v1/auth:register", { email: e, password: PASSWORD });
    expect(dup.status).toBe(409);
    expect(reasonOf(dup.body)).toBe("EMAIL_TAKEN");
    const bad = await post("/v1/auth:register", { email: "nope", password: PASSWORD });
    expect(bad.status).toBe(400);
    expect(reasonOf(bad.body)).toBe("INVALID_EMAIL");
    expect(
      bad.body.details.find((d: any) => d["@type"].endsWith("BadRequest")).fieldViolations[0].field,
    ).toBe("email");
    const short = await post("/v1/auth:register", { email: email(), password: "short" });
    expect(reasonOf(short.body)).toBe("PASSWORD_TOO_SHORT");
  });

  it("POST /v1/auth:login → tokens; a wrong password is 401 with a google.rpc.Status body", async () => {
    const s = await signup();
    expect(s).toMatchObject({ tokenType: "Bearer", expiresIn: 900, userId: s.user.id });
    expect(s.sessionId).toBeTruthy();
    const wrong = await post("/v1/auth:login", { email: s.email, password: "not it at all" });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: 16, message: "invalid email or password" });
    expect(reasonOf(wrong.body)).toBe("INVALID_CREDENTIALS");
  });

  it("GET /v1/auth/jwks and /.well-known/jwks.json serve standard JWKS JSON that verifies the token", async () => {
    const s = await signup();
    for (const path of ["/v1/auth/jwks", "/.well-known/jwks.json"]) {
      const res = await rest(t.base, "GET", path);
      expect(res.status).toBe(200);
      const k = res.body.keys[0];
      expect(k).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
      const key = createPublicKey({ key: { kty: "RSA", n: k.n, e: k.e } as JsonWebKey, format: "jwk" });
      expect((jwt.verify(s.accessToken, key, { algorithms: ["RS256"] }) as jwt.JwtPayload).sub).toBe(
        s.userId,
      );
    }
  });

  it("refresh, sessions, revoke, change password and logout", async () => {
    const s = await signup();
    const r = await post("/v1/auth:refresh", { refreshToken: s.refreshToken });
    expect(r.status).toBe(200);
    expect(r.body.refreshToken).not.toBe(s.refreshToken);
    const replay = await post("/v1/auth:refresh", { refreshToken: s.refreshToken });
    expect(replay.status).toBe(401);
    expect(reasonOf(replay.body)).toBe("REFRESH_TOKEN_REUSED");

    const s2 = await signup();
    const again = await post("/v1/auth:login", { email: s2.email, password: PASSWORD });
    // A third, from a named device: the session list tells it by its User-Agent.
    const phone = "FilemeshPhone/2.1 (Android 15)";
    const named = await rest(
      t.base,
      "POST",
      "/v1/auth:login",
      { email: s2.email, password: PASSWORD },
      {
        "user-agent": phone,
      },
    );
    expect(named.status).toBe(200);
    const list = await rest(t.base, "GET", "/v1/auth/sessions", undefined, s2.auth);
    expect(list.status).toBe(200);
    expect(list.body.sessions).toHaveLength(3);
    const device = list.body.sessions.find((x: { id: string }) => x.id === named.body.sessionId);
    expect(device?.userAgent).toBe(phone);
    const del = await rest(t.base, "DELETE", `/v1/auth/sessions/${again.body.sessionId}`, undefined, s2.auth);
    expect(del.status).toBe(200);
    const gone = await rest(
      t.base,
      "DELETE",
      `/v1/auth/sessions/${again.body.sessionId}`,
      undefined,
      s2.auth,
    );
    expect(gone.status).toBe(404);
    const noAuth = await rest(t.base, "GET", "/v1/auth/sessions");
    expect(noAuth.status).toBe(401);
    expect(reasonOf(noAuth.body)).toBe("MISSING_TOKEN");

    const change = await post(
      "/v1/auth:changePassword",
      { currentPassword: PASSWORD, newPassword: "another long passphrase" },
      s2.auth,
    );
    expect(change.status).toBe(200);
    const out = await post("/v1/auth:logout", {}, s2.auth);
    expect(out.status).toBe(200);
    expect(out.body.endedSessions).toBe(1);
  });

  it("admin routes need the admin role", async () => {
    const s = await signup();
    const denied = await rest(t.base, "GET", "/v1/admin/users", undefined, s.auth);
    expect(denied.status).toBe(403);
    expect(reasonOf(denied.body)).toBe("ADMIN_REQUIRED");
    await post("/v1/auth:register", { email: ADMIN, password: PASSWORD });
    await setAdmin({ databaseUrl: t.mesh?.env.DATABASE_URL }, ADMIN, true);
    const admin = await post("/v1/auth:login", { email: ADMIN, password: PASSWORD });
    const ah = { authorization: `Bearer ${admin.body.accessToken}` };
    const list = await rest(
      t.base,
      "GET",
      `/v1/admin/users?emailPrefix=${encodeURIComponent(s.email)}`,
      undefined,
      ah,
    );
    expect(list.status).toBe(200);
    expect(list.body.users).toHaveLength(1);
    const dis = await post(`/v1/admin/users/${s.userId}:disable`, { reason: "test" }, ah);
    expect(dis.status).toBe(200);
    expect(dis.body.user.disabled).toBe(true);
    const en = await post(`/v1/admin/users/${s.userId}:enable`, {}, ah);
    expect(en.body.user.disabled).toBe(false);
  });
});
