// Issue 12, attack 2: admin rights come only from the operator's `npm run admin` (a script that
// needs the database), never from an address someone registered. The script runs here as a
// child process against the test database and Redis, as an operator would run it.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ConfigError } from "@filemesh/kit";
import { call, failure, tempKeyDir, testDatabaseUrl } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";
import { loadAuthConfig } from "../src/config.js";

const root = join(import.meta.dirname, "..", "..", "..");
let mesh: TestMesh;
const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
beforeAll(async () => {
  mesh = await startTestMesh({ services: ["auth"] });
});
afterAll(async () => {
  await mesh.stop();
  await db.end();
});

/** `npm run admin -- <args>` as a child process: exit code, stdout, stderr. */
function admin(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "scripts", "admin.mjs"), ...args],
      {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: mesh.env.DATABASE_URL,
          REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
          REDIS_PREFIX: mesh.env.REDIS_PREFIX,
        },
      },
      (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }),
    );
  });
}

const listUsers = (headers: Record<string, string>, prefix: string) =>
  call(mesh.auth.listUsers.bind(mesh.auth), { pageSize: 5, pageToken: "", emailPrefix: prefix }, headers);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const adminCount = async () =>
  Number((await db.query("SELECT count(*) AS n FROM auth.accounts WHERE admin")).rows[0].n);

describe("ADMIN_EMAILS", () => {
  const env = {
    DATABASE_URL: testDatabaseUrl(),
    JWT_KEYS_DIR: tempKeyDir(),
    PASSWORD_PEPPER: randomBytes(32).toString("base64url"),
  };

  it("stops the service at start with a configuration error that points to npm run admin", () => {
    let thrown: unknown;
    try {
      loadAuthConfig({ ...env, ADMIN_EMAILS: "ops@example.com", BCRYPT_COST: "99" });
    } catch (err) {
      thrown = err;
    }
    // Listed with the other problems, so main.ts exits 78 (loadConfigOrExit) with all of them.
    expect(thrown).toBeInstanceOf(ConfigError);
    const problems = (thrown as ConfigError).problems;
    expect(problems.some((p) => p.startsWith("BCRYPT_COST"))).toBe(true);
    expect(problems.find((p) => p.startsWith("ADMIN_EMAILS"))).toMatch(
      /no longer supported.*npm run admin -- grant/,
    );
  });

  it("is accepted when empty (as if unset)", () => {
    expect(() => loadAuthConfig({ ...env, ADMIN_EMAILS: "" })).not.toThrow();
  });
});

describe("npm run admin", () => {
  it("grant makes the account an admin from its next refresh or login; revoke ends its sessions and takes the role away", async () => {
    const u = await mesh.newUser();
    const before = await failure(listUsers(u.headers, u.email));
    expect(before).toMatchObject({ code: status.PERMISSION_DENIED, reason: "ADMIN_REQUIRED" });

    const granted = await admin("grant", u.email.toUpperCase());
    expect(granted.code).toBe(0);
    expect(granted.out).toContain(u.userId);
    // The token issued before the grant does not carry the role; the next refresh does.
    expect((await failure(listUsers(u.headers, u.email))).reason).toBe("ADMIN_REQUIRED");
    const session = await call(mesh.auth.login.bind(mesh.auth), { email: u.email, password: u.password });
    const refreshed = await call(mesh.auth.refresh.bind(mesh.auth), { refreshToken: session.refreshToken });
    const listed = await listUsers(bearer(refreshed.accessToken), u.email);
    expect(listed.users).toEqual([expect.objectContaining({ id: u.userId, admin: true })]);

    const list = await admin("list");
    expect(list.code).toBe(0);
    expect(list.out).toContain(`${u.userId}\t${u.email}`);

    // Revoke by id: every session ends (a token that still says admin stops working ≤ 1 s)...
    const revoked = await admin("revoke", u.userId);
    expect(revoked.code).toBe(0);
    expect(revoked.out).toMatch(/ended [1-9]\d* session/);
    await new Promise((r) => setTimeout(r, 1_100));
    const ended = await failure(listUsers(bearer(refreshed.accessToken), u.email));
    expect(ended).toMatchObject({ code: status.UNAUTHENTICATED, reason: "SESSION_ENDED" });
    const again = await failure(
      call(mesh.auth.refresh.bind(mesh.auth), { refreshToken: refreshed.refreshToken }),
    );
    expect(again.code).toBe(status.UNAUTHENTICATED);
    // ...and a new login is a plain user again.
    const relogin = await call(mesh.auth.login.bind(mesh.auth), { email: u.email, password: u.password });
    expect((await failure(listUsers(bearer(relogin.accessToken), u.email))).reason).toBe("ADMIN_REQUIRED");
    expect((await admin("list")).out).not.toContain(u.userId);
  });

  it("refuses bad input with a clear message and a non-zero exit, changing nothing", async () => {
    const u = await mesh.newUser();
    const count = await adminCount();
    const ghost = `nobody-${randomBytes(6).toString("hex")}@example.com`;
    const cases: [string[], number, RegExp][] = [
      [[], 64, /usage: npm run admin -- grant/],
      [["grant"], 64, /usage/],
      [["promote", u.email], 64, /usage/],
      [["grant", u.email, "extra"], 64, /usage/],
      [["grant", "not-an-address"], 64, /neither an e-mail address nor a user id/],
      [["grant", ghost], 1, /no account with e-mail .*nothing changed/],
      [["revoke", "00000000-0000-4000-8000-000000000000"], 1, /no account with id/],
    ];
    for (const [args, code, message] of cases) {
      const r = await admin(...args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.err).toMatch(message);
      expect(r.out).toBe("");
    }
    expect(await adminCount()).toBe(count);
    const { rows } = await db.query("SELECT 1 FROM auth.accounts WHERE email = $1", [ghost]);
    expect(rows).toEqual([]);
    // The user's session was not touched either.
    const { sessions } = await call(
      mesh.auth.listSessions.bind(mesh.auth),
      { pageSize: 0, pageToken: "" },
      u.headers,
    );
    expect(sessions.map((s) => s.id)).toEqual([u.sessionId]);
  });
});
