// Issue 12 over REST through the gateway: admin rights cannot be claimed by registering an
// address (attack 2), and nobody can keep another person out of their account by guessing
// wrong (attack 6). Attacker and victim connect from distinct loopback addresses (127.0.x.y),
// the address the gateway reports for them.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopback, reasonOf, rest, restFrom, startTarget, type Target } from "./target.js";

const external = Boolean(process.env.CONFORMANCE_BASE_URL);
const root = join(import.meta.dirname, "..", "..");
const PASSWORD = "a security-auth passphrase";
const unique = () => `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: Target;
beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission"],
    serviceEnv: { auth: { LOGIN_FREE_ATTEMPTS: "3", LOGIN_BACKOFF_BASE: "300ms", LOGIN_BACKOFF_MAX: "2s" } },
  });
});
afterAll(() => t?.stop());

/** `npm run admin -- <args>` against the target's database, as the operator runs it. */
function operator(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const databaseUrl = t.mesh?.env.DATABASE_URL ?? process.env.DATABASE_URL;
  // revoke ends sessions in Redis: under the mesh's key prefix, as the operator configures it.
  const redisPrefix = t.mesh?.env.REDIS_PREFIX ?? process.env.REDIS_PREFIX;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "scripts", "admin.mjs"), ...args],
      {
        cwd: root,
        env: {
          ...process.env,
          ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
          ...(redisPrefix ? { REDIS_PREFIX: redisPrefix } : {}),
        },
      },
      (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }),
    );
  });
}

const post = (path: string, body: unknown, headers?: Record<string, string>) =>
  rest(t.base, "POST", path, body, headers);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("admin rights (attack 2)", () => {
  it.skipIf(external)(
    "ADMIN_EMAILS stops the auth service at start instead of making whoever registers the address an admin",
    async () => {
      let started: Target | undefined;
      const outcome = await startTarget({
        services: ["auth"],
        serviceEnv: { auth: { ADMIN_EMAILS: `ops-${unique()}@example.com` } },
      }).then(
        (s) => {
          started = s;
          return "started";
        },
        (err: Error) => err.message,
      );
      await started?.stop();
      expect(outcome).toMatch(/ADMIN_EMAILS is no longer supported.*npm run admin -- grant/s);
    },
  );

  it("registering the operator's address gives nothing (403 ADMIN_REQUIRED); the operator's grant does from the next refresh, and revoke ends it", async () => {
    const ops = `ops-${unique()}@example.com`;
    expect((await post("/v1/auth:register", { email: ops, password: PASSWORD })).status).toBe(200);
    const login = await post("/v1/auth:login", { email: ops, password: PASSWORD });
    expect(login.status).toBe(200);
    const denied = await rest(t.base, "GET", "/v1/admin/users", undefined, bearer(login.body.accessToken));
    expect(denied.status).toBe(403);
    expect(reasonOf(denied.body)).toBe("ADMIN_REQUIRED");

    if (external && !process.env.DATABASE_URL) return; // the operator's part needs the database
    expect((await operator("grant", ops)).code).toBe(0);
    const refreshed = await post("/v1/auth:refresh", { refreshToken: login.body.refreshToken });
    expect(refreshed.status).toBe(200);
    const listed = await rest(
      t.base,
      "GET",
      `/v1/admin/users?emailPrefix=${encodeURIComponent(ops)}`,
      undefined,
      bearer(refreshed.body.accessToken),
    );
    expect(listed.status).toBe(200);
    expect(listed.body.users).toEqual([expect.objectContaining({ email: ops, admin: true })]);

    expect((await operator("revoke", ops)).code).toBe(0);
    await sleep(1_100);
    const ended = await rest(t.base, "GET", "/v1/admin/users", undefined, bearer(refreshed.body.accessToken));
    expect(ended.status).toBe(401);
    expect(reasonOf(ended.body)).toBe("SESSION_ENDED");
    const again = await post("/v1/auth:login", { email: ops, password: PASSWORD });
    const plain = await rest(t.base, "GET", "/v1/admin/users", undefined, bearer(again.body.accessToken));
    expect(plain.status).toBe(403);
  });
});

/** POST with a JSON body from a chosen local address: status and ErrorInfo reason. */
async function postFrom(
  from: string,
  path: string,
  body: unknown,
): Promise<{ status: number; reason?: string }> {
  const res = await restFrom(from, t.base, "POST", path, body);
  const reason = reasonOf(res.body);
  return { status: res.status, ...(reason ? { reason } : {}) };
}

describe.skipIf(external)("someone else's wrong guesses (attack 6)", () => {
  it("eight wrong passwords from another address, then one per delay, do not keep the owner out of their account", async () => {
    const victim = `victim-${unique()}@example.com`;
    expect((await post("/v1/auth:register", { email: victim, password: PASSWORD })).status).toBe(200);
    const attacker = loopback();
    const seen: (string | undefined)[] = [];
    for (let i = 0; i < 8; i++) {
      seen.push((await postFrom(attacker, "/v1/auth:login", { email: victim, password: "guess" })).reason);
    }
    // The attacker is throttled (429 LOGIN_THROTTLED)...
    expect(seen.slice(0, 4)).toEqual(Array(4).fill("INVALID_CREDENTIALS"));
    expect(seen.at(-1)).toBe("LOGIN_THROTTLED");
    await sleep(350);
    expect((await postFrom(attacker, "/v1/auth:login", { email: victim, password: "guess" })).status).toBe(
      401,
    );
    const limited = await postFrom(attacker, "/v1/auth:login", { email: victim, password: "guess" });
    expect(limited).toEqual({ status: 429, reason: "LOGIN_THROTTLED" });
    // ...the victim, from their own address, is not.
    const own = await postFrom(loopback(), "/v1/auth:login", { email: victim, password: PASSWORD });
    expect(own.status).toBe(200);
  });
});
