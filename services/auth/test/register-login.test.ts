// The auth slice against the real Postgres (and Redis for sessions): good and bad input.
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { eventsv1 } from "@filemesh/contracts";
import { call, failure, testDatabaseUrl, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import jwt from "jsonwebtoken";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAuth } from "./start-auth.js";

let auth: Awaited<ReturnType<typeof startTestAuth>>;
const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
const PASSWORD = "correct horse battery staple ✓";

beforeAll(async () => {
  auth = await startTestAuth();
});
afterAll(async () => {
  await auth.stop();
  await db.end();
});

const register = (email: string, password = PASSWORD, displayName = "Test User") =>
  call(auth.client.register.bind(auth.client), { email, password, displayName });
const login = (email: string, password: string) =>
  call(auth.client.login.bind(auth.client), { email, password });
const email = () => `${uniqueId("u")}@Example.COM`;

describe("Register", () => {
  it("creates an account with a normalised email and emits user_registered through the outbox", async () => {
    const raw = email();
    const { user } = await register(`  ${raw} `);
    expect(user).toMatchObject({
      email: raw.toLowerCase(),
      displayName: "Test User",
      disabled: false,
      admin: false,
    });
    expect(user?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(user?.createTime).toBeInstanceOf(Date);
    const { rows } = await db.query(
      "SELECT subject, payload, headers FROM auth.outbox WHERE payload IS NOT NULL AND subject = $1 ORDER BY seq DESC LIMIT 20",
      ["filemesh.auth.user_registered"],
    );
    const events = rows.map((r) => eventsv1.UserRegistered.decode(r.payload));
    const mine = events.find((e) => e.userId === user?.id);
    expect(mine).toMatchObject({ email: raw.toLowerCase(), displayName: "Test User" });
    expect(mine?.meta?.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ["", "is required"],
    ["no-at-sign", "must look like name@example.com"],
    ["two@@example.com", "must look like name@example.com"],
    ["a b@example.com", "has an invalid name part"],
    ["x@localhost", "has an invalid domain"],
    ["x@exa_mple.com", "has an invalid domain"],
    [`${"a".repeat(65)}@example.com`, "has an invalid name part"],
  ])("refuses the malformed email %j", async (bad, why) => {
    const err = await failure(register(bad));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_EMAIL" });
    expect(err.fieldViolations).toEqual([{ field: "email", description: why, reason: "" }]);
  });

  it("enforces the password policy: 8 to 1024 characters, any Unicode, no common passwords", async () => {
    expect(await failure(register(email(), "short7!"))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "PASSWORD_TOO_SHORT",
    });
    expect(await failure(register(email(), "x".repeat(1025)))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "PASSWORD_TOO_LONG",
    });
    expect(await failure(register(email(), "Password123"))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "PASSWORD_TOO_COMMON",
    });
    // 8 code points of emoji (16 UTF-16 units), and a 64-character passphrase, are fine.
    await expect(register(email(), "🔑🔒🗝️🔐🧷📎✂️🖇️")).resolves.toHaveProperty("user");
    await expect(register(email(), "p".repeat(32) + "q".repeat(32))).resolves.toHaveProperty("user");
  });

  it("refuses a duplicate email, whatever its case", async () => {
    const e = email();
    await register(e);
    const err = await failure(register(e.toUpperCase()));
    expect(err).toMatchObject({ code: status.ALREADY_EXISTS, reason: "EMAIL_TAKEN" });
  });

  it("stores bcrypt hashes with the configured cost and distinct salts", async () => {
    const [a, b] = [email(), email()];
    await register(a);
    await register(b);
    const { rows } = await db.query("SELECT password_hash FROM auth.accounts WHERE email = ANY($1)", [
      [a.toLowerCase(), b.toLowerCase()],
    ]);
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.password_hash).toMatch(/^\$2b\$04\$.{53}$/);
    expect(rows[0].password_hash).not.toBe(rows[1].password_hash);
  });
});

describe("Login", () => {
  it("returns an access token that verifies against the JWKS, with every claim", async () => {
    const e = email();
    const { user } = await register(e);
    const res = await login(e, PASSWORD);
    expect(res).toMatchObject({ tokenType: "Bearer", expiresIn: 900, userId: user?.id });
    expect(res.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { keys } = await call(auth.client.getJwks.bind(auth.client), {});
    const header = jwt.decode(res.accessToken, { complete: true })?.header;
    expect(header).toMatchObject({ alg: "RS256", typ: "at+jwt" });
    const jwk = keys.find((k) => k.kid === header?.kid);
    expect(jwk).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    const key = createPublicKey({
      key: { kty: jwk!.kty, n: jwk!.n, e: jwk!.e } as JsonWebKey,
      format: "jwk",
    });
    const claims = jwt.verify(res.accessToken, key, {
      algorithms: ["RS256"],
      issuer: "filemesh",
      audience: "filemesh",
    }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: user?.id, sid: res.sessionId, typ: "access" });
    expect(claims.exp! - claims.iat!).toBe(900);
  });

  it("gives the same answer for an unknown user and a wrong password", async () => {
    const e = email();
    await register(e);
    const wrong = await failure(login(e, "not the password at all"));
    const unknown = await failure(login(email(), "not the password at all"));
    expect(wrong).toMatchObject({ code: status.UNAUTHENTICATED, reason: "INVALID_CREDENTIALS" });
    expect(unknown).toEqual(wrong);
  });

  it("never ignores bytes past 72 (HMAC pre-hash before bcrypt)", async () => {
    const e = email();
    const long = "α".repeat(40) + "-tail-one"; // 80+ bytes in UTF-8
    await register(e, long);
    await expect(login(e, long)).resolves.toHaveProperty("accessToken");
    const err = await failure(login(e, "α".repeat(40) + "-tail-two"));
    expect(err.reason).toBe("INVALID_CREDENTIALS");
  });

  it("keeps passwords and tokens out of the logs", async () => {
    const e = email();
    await register(e);
    const res = await login(e, PASSWORD);
    const all = auth.lines.join("\n");
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(res.accessToken);
    expect(all).not.toContain(res.refreshToken);
    expect(all).not.toContain(auth.config.passwordPepper);
  });
});
