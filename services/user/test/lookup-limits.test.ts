// LookupUser is rate-limited per caller (rate class "lookup"), hits and misses alike, so
// e-mail addresses cannot be probed in bulk; other classes and other callers are unaffected.
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startUserMesh, type UserTestMesh } from "./start-user.js";

let t: UserTestMesh;
beforeAll(async () => {
  t = await startUserMesh({ userEnv: { RATE_LIMITS: "lookup=3/1m:3" } });
});
afterAll(() => t.stop());

it("throttles lookups per caller with RESOURCE_EXHAUSTED and RetryInfo", async () => {
  const a = await t.mesh.newUser();
  const b = await t.mesh.newUser();
  await t.u.getMe(b.headers);
  const outcomes: (number | "ok")[] = [];
  for (let i = 0; i < 8; i++) {
    const email = i % 2 ? b.email : `nobody${i}@example.com`;
    outcomes.push(
      await t.u.lookupUser(email, a.headers).then(
        () => "ok" as const,
        async (e) => (await failure(Promise.reject(e))).code,
      ),
    );
  }
  expect(outcomes.filter((o) => o === status.RESOURCE_EXHAUSTED).length).toBeGreaterThanOrEqual(3);
  const err = await failure(t.u.lookupUser(b.email, a.headers));
  expect(err).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "RATE_LIMITED" });
  expect(err.retryAfterMs).toBeGreaterThan(0);
  // Reads of the same caller and lookups of another caller still pass.
  await t.u.getMe(a.headers);
  expect((await t.u.lookupUser(b.email, b.headers)).user?.id).toBe(b.userId);
});
