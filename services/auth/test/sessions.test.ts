// Sessions, logout, password change and refresh rotation (docs/reliability.md, "Auth and sessions"),
// checked on the auth service and on another service through the kit's authentication.

import { call, failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOutcome, startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

let mesh: TestMesh;
beforeAll(async () => {
  mesh = await startTestMesh({ services: ["auth", "file"] });
});
afterAll(() => mesh.stop());

const SESSION_CACHE_MS = 1_100; // the kit caches a live session for at most 1 s
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const h = (token: string) => ({ authorization: `Bearer ${token}` });
const login = (email: string, password: string) => call(mesh.auth.login.bind(mesh.auth), { email, password });
const refresh = (refreshToken: string) => call(mesh.auth.refresh.bind(mesh.auth), { refreshToken });
const sessions = (token: string) =>
  call(mesh.auth.listSessions.bind(mesh.auth), { pageSize: 0, pageToken: "" }, h(token));
/** An authenticated call on another service: PASSED, or the reason the caller checks refused it. */
const elsewhere = (token: string) => authOutcome(call(mesh.file.getUsage.bind(mesh.file), {}, h(token)));

describe("sessions", () => {
  it("issues new tokens on every login and lists the sessions, marking the current one", async () => {
    const u = await mesh.newUser();
    const second = await login(u.email, u.password);
    expect(second.sessionId).not.toBe(u.sessionId);
    expect(second.accessToken).not.toBe(u.token);
    const { sessions: list } = await sessions(second.accessToken);
    expect(list.map((s) => s.id).sort()).toEqual([u.sessionId, second.sessionId].sort());
    expect(list.find((s) => s.current)?.id).toBe(second.sessionId);
    expect(list[0]?.expireTime?.getTime()).toBeGreaterThan(Date.now());
  });

  it("logout ends this session everywhere within the cache bound, and its refresh token", async () => {
    const u = await mesh.newUser();
    const other = await login(u.email, u.password);
    expect(await elsewhere(u.token)).toBe("PASSED");
    expect(await call(mesh.auth.logout.bind(mesh.auth), { allSessions: false }, u.headers)).toEqual({
      endedSessions: 1,
    });
    await sleep(SESSION_CACHE_MS);
    expect(await elsewhere(u.token)).toBe("SESSION_ENDED");
    expect((await failure(sessions(u.token))).reason).toBe("SESSION_ENDED");
    // The other session is untouched.
    expect(await elsewhere(other.accessToken)).toBe("PASSED");
    const login1Refresh = (await login(u.email, u.password)).refreshToken;
    await call(mesh.auth.logout.bind(mesh.auth), { allSessions: true }, h(other.accessToken));
    await sleep(SESSION_CACHE_MS);
    expect(await elsewhere(other.accessToken)).toBe("SESSION_ENDED");
    expect((await failure(refresh(login1Refresh))).reason).toBe("INVALID_REFRESH_TOKEN");
  });

  it("a logout retried after its session ended is OK and ends nothing, not even with all_sessions", async () => {
    const u = await mesh.newUser();
    const other = await login(u.email, u.password);
    const logout = (allSessions: boolean, token = u.token) =>
      call(mesh.auth.logout.bind(mesh.auth), { allSessions }, h(token));
    expect(await logout(false)).toEqual({ endedSessions: 1 });
    // The retry of a logout whose answer was lost, on a replica that has not cached the session.
    await sleep(SESSION_CACHE_MS);
    expect(await logout(false)).toEqual({ endedSessions: 0 });
    // An ended session's token cannot end the user's other sessions.
    expect(await logout(true)).toEqual({ endedSessions: 0 });
    await sleep(SESSION_CACHE_MS);
    expect(await elsewhere(other.accessToken)).toBe("PASSED");
    expect((await sessions(other.accessToken)).sessions.map((s) => s.id)).toEqual([other.sessionId]);
    // Every other method still refuses the ended session.
    expect((await failure(sessions(u.token))).reason).toBe("SESSION_ENDED");
    expect(await elsewhere(u.token)).toBe("SESSION_ENDED");
    // A token that does not verify is refused as before.
    expect((await failure(logout(false, `${u.token.slice(0, -4)}AAAA`))).reason).toBe("INVALID_TOKEN");
  });

  it("revokes one of the caller's sessions; another user's session id is NOT_FOUND", async () => {
    const u = await mesh.newUser();
    const other = await login(u.email, u.password);
    const stranger = await mesh.newUser();
    const notMine = await failure(
      call(mesh.auth.revokeSession.bind(mesh.auth), { sessionId: stranger.sessionId }, u.headers),
    );
    expect(notMine).toMatchObject({ code: status.NOT_FOUND, reason: "SESSION_NOT_FOUND" });
    expect(await elsewhere(stranger.token)).toBe("PASSED");
    await call(mesh.auth.revokeSession.bind(mesh.auth), { sessionId: other.sessionId }, u.headers);
    await sleep(SESSION_CACHE_MS);
    expect(await elsewhere(other.accessToken)).toBe("SESSION_ENDED");
    expect(await elsewhere(u.token)).toBe("PASSED");
  });

  it("changes the password only with the current one, and ends the other sessions", async () => {
    const u = await mesh.newUser();
    const other = await login(u.email, u.password);
    const change = (currentPassword: string, newPassword: string) =>
      call(mesh.auth.changePassword.bind(mesh.auth), { currentPassword, newPassword }, u.headers);
    expect((await failure(change("wrong password!", "a brand new passphrase"))).reason).toBe(
      "INVALID_CREDENTIALS",
    );
    expect((await failure(change(u.password, "password1"))).reason).toBe("PASSWORD_TOO_COMMON");
    expect(await change(u.password, "a brand new passphrase")).toEqual({ endedSessions: 1 });
    await sleep(SESSION_CACHE_MS);
    expect(await elsewhere(other.accessToken)).toBe("SESSION_ENDED");
    expect(await elsewhere(u.token)).toBe("PASSED");
    expect((await failure(login(u.email, u.password))).reason).toBe("INVALID_CREDENTIALS");
    await expect(login(u.email, "a brand new passphrase")).resolves.toHaveProperty("accessToken");
  });
});

describe("refresh tokens", () => {
  it("rotate on every refresh; a spent one cannot be used again", async () => {
    const u = await mesh.newUser();
    const first = await login(u.email, u.password);
    const second = await refresh(first.refreshToken);
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(await elsewhere(second.accessToken)).toBe("PASSED");
    const third = await refresh(second.refreshToken);
    expect(third.userId).toBe(u.userId);
  });

  it("a replayed spent token revokes the whole family: the newest token stops working too", async () => {
    const u = await mesh.newUser();
    const first = await login(u.email, u.password);
    const second = await refresh(first.refreshToken);
    const replay = await failure(refresh(first.refreshToken));
    expect(replay).toMatchObject({ code: status.UNAUTHENTICATED, reason: "REFRESH_TOKEN_REUSED" });
    expect((await failure(refresh(second.refreshToken))).reason).toBe("INVALID_REFRESH_TOKEN");
    await sleep(SESSION_CACHE_MS);
    expect(await elsewhere(second.accessToken)).toBe("SESSION_ENDED");
  });

  it("of concurrent refreshes with one token, at most one succeeds", async () => {
    const u = await mesh.newUser();
    const { refreshToken } = await login(u.email, u.password);
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => refresh(refreshToken)));
    expect(results.filter((r) => r.status === "fulfilled").length).toBeLessThanOrEqual(1);
  });

  it.each(["", "short", "a".repeat(43), "💥".repeat(20), "x".repeat(5000)])(
    "refuses the malformed or unknown token %j",
    async (t) => {
      expect(await failure(refresh(t))).toMatchObject({
        code: status.UNAUTHENTICATED,
        reason: "INVALID_REFRESH_TOKEN",
      });
    },
  );
});
