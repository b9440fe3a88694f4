// Findings of the security review (docs/security.md) fixed in the kit, on the real Redis:
// F3 — a call may cost more than one rate-limit token. CheckBatch is charged one token per item
// (its cost hook, given when the permission service registers), so a batch of up to 1,000
// questions no longer counts as one call; a batch larger than the whole budget passes only on a
// full budget and is still charged in full.
import { randomUUID } from "node:crypto";
import { call, failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";
import { type Limit, takeToken } from "../src/ratelimit/gcra.js";

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const keys: string[] = [];
const key = () => {
  const k = `fm:test:rl:${randomUUID()}`;
  keys.push(k);
  return k;
};

// 100 per hour with a burst of 99: exactly 100 tokens at once, and none back during the test.
const HOURLY: Limit = { rate: 100, periodMs: 3_600_000, burst: 99 };
const INTERVAL_MS = 36_000;

let mesh: TestMesh;
beforeAll(async () => {
  mesh = await startTestMesh({ services: ["auth", "permission"], env: { RATE_LIMITS: "check=100/1h:99" } });
});
afterAll(async () => {
  await mesh?.stop();
  if (keys.length) await redis.del(...keys.map((k) => `${k}:us`));
  await redis.quit();
});

describe("F3: GCRA with a cost", () => {
  it("charges the cost: a cost that fits passes, one that does not is refused and charges nothing", async () => {
    const k = key();
    expect(await takeToken(redis, k, HOURLY, 98)).toBe(0);
    // Two tokens left: a cost of 3 is refused (with the wait for the one missing token) …
    const wait = await takeToken(redis, k, HOURLY, 3);
    expect(wait).toBeGreaterThan(INTERVAL_MS - 1000);
    expect(wait).toBeLessThanOrEqual(INTERVAL_MS);
    // … and took nothing: the two are still there, then the budget is empty.
    expect(await takeToken(redis, k, HOURLY, 2)).toBe(0);
    expect(await takeToken(redis, k, HOURLY)).toBeGreaterThan(0);
  });

  it("lets a cost above the whole budget through on a full budget only, and charges all of it", async () => {
    const k = key();
    expect(await takeToken(redis, k, HOURLY, 1000)).toBe(0);
    // 1,000 tokens charged against a budget of 100: 900 intervals of debt before the next one.
    expect(await takeToken(redis, k, HOURLY)).toBeGreaterThan(900 * INTERVAL_MS - 1000);
    const partly = key();
    expect(await takeToken(redis, partly, HOURLY)).toBe(0);
    expect(await takeToken(redis, partly, HOURLY, 1000)).toBeGreaterThan(0);
    // Costs out of range count as the nearest allowed one (never 0, never unbounded).
    const odd = key();
    expect(await takeToken(redis, odd, HOURLY, 0)).toBe(0);
    expect(await takeToken(redis, odd, HOURLY, Number.NaN)).toBe(0);
    expect(await takeToken(redis, odd, HOURLY, 98)).toBe(0);
    expect(await takeToken(redis, odd, HOURLY)).toBeGreaterThan(0);
  });
});

describe("F3: CheckBatch is charged per item (check=100/1h:99)", () => {
  const p = () => mesh.permission;
  const items = (userId: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      subject: `user:${userId}`,
      resource: `file:f3-${i}`,
      permission: "read",
    }));
  const check = (h: Record<string, string>, userId: string) =>
    call(
      p().check.bind(p()),
      { subject: `user:${userId}`, resource: "file:f3", permission: "read", minRevision: "" },
      h,
    );
  const batch = (u: { userId: string; headers: Record<string, string> }, n: number) =>
    call(p().checkBatch.bind(p()), { items: items(u.userId, n), minRevision: "" }, u.headers);

  it("one CheckBatch of 100 items spends the budget: the next Check is RATE_LIMITED", async () => {
    const u = await mesh.newUser();
    const res = await batch(u, 100);
    expect(res.allowed).toHaveLength(100);
    const refused = await failure(check(u.headers, u.userId));
    expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "RATE_LIMITED" });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
  });

  it("a batch larger than the budget still works on a full budget, and is paid for", async () => {
    const u = await mesh.newUser();
    const res = await batch(u, 1000);
    expect(res.allowed).toHaveLength(1000);
    expect(await failure(check(u.headers, u.userId))).toMatchObject({ reason: "RATE_LIMITED" });
    // Another user's budget is untouched.
    const other = await mesh.newUser();
    expect((await check(other.headers, other.userId)).allowed).toBe(false);
  });

  it("a Check costs one token as before: 100 pass, the 101st is RATE_LIMITED", async () => {
    const u = await mesh.newUser();
    for (let i = 0; i < 100; i++) await check(u.headers, u.userId);
    expect(await failure(check(u.headers, u.userId))).toMatchObject({ reason: "RATE_LIMITED" });
  });
});
