// The GCRA limiter on the real Redis at the edges of what RATE_LIMITS accepts (issue 12): no
// "invalid expire time", no fail-open, a refusal with a wait of at least 1 ms. The old script
// counted milliseconds: at 1e9/1s the arrival time no longer advanced and SET … PX 0 failed.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { type Limit, parseLimits, takeToken } from "../src/ratelimit/gcra.js";

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const keys: string[] = [];
afterAll(async () => {
  if (keys.length) await redis.del(...keys.map((k) => `${k}:us`));
  await redis.quit();
});
const key = () => {
  const k = `fm:test:rl:${randomUUID()}`;
  keys.push(k);
  return k;
};
const limitOf = (spec: string): Limit => Object.values(parseLimits(spec))[0]!;

/** `n` takeToken calls in one pipeline-like burst; the waits they got. */
const burst = (k: string, limit: Limit, n: number) =>
  Promise.all(Array.from({ length: n }, () => takeToken(redis, k, limit)));

describe("GCRA at the bounds", () => {
  it("the highest accepted rate (one per microsecond) works and limits", async () => {
    const limit = limitOf("check=1000000/1s");
    const k = key();
    // Calls succeed (each SET has an expiry of at least 1 ms, never PX 0) …
    const waits = await burst(k, limit, 200);
    expect(waits.filter((w) => w === 0).length).toBeGreaterThan(0);
    // … and a caller a second ahead of its budget waits (the arrival time is stored exactly).
    const now = await redis.time();
    const nowUs = Number(now[0]) * 1_000_000 + Number(now[1]);
    await redis.set(`${k}:us`, String(nowUs + 1_500_000), "PX", 5000);
    const wait = await takeToken(redis, k, limit);
    expect(wait).toBeGreaterThanOrEqual(1000);
    expect(wait).toBeLessThanOrEqual(1500);
  });

  it("the largest accepted burst at the highest rate is spent, then limited", async () => {
    const limit = limitOf("check=1000000/1s:1000000"); // a burst window of 1 s
    const k = key();
    const now = await redis.time();
    const nowUs = Number(now[0]) * 1_000_000 + Number(now[1]);
    await redis.set(`${k}:us`, String(nowUs + 1_000_000 + 200_000), "PX", 5000);
    const wait = await takeToken(redis, k, limit);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(200);
  });

  it("the longest accepted period limits the second call for about 7 days", async () => {
    const limit = limitOf("login=1/7d");
    const k = key();
    expect(await takeToken(redis, k, limit)).toBe(0);
    const wait = await takeToken(redis, k, limit);
    expect(wait).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(wait).toBeLessThanOrEqual(7 * 86_400_000);
    expect(await redis.pttl(`${k}:us`)).toBeGreaterThan(7 * 86_400_000 - 60_000);
  });

  it("a burst is exactly the configured size, then every caller waits at least 1 ms", async () => {
    const limit = limitOf("write=10/1h:99"); // 100 at once, then one per 6 minutes
    const k = key();
    const waits = await burst(k, limit, 130);
    expect(waits.filter((w) => w === 0)).toHaveLength(100);
    for (const w of waits.filter((x) => x > 0)) expect(w).toBeGreaterThanOrEqual(1);
  });

  it("a sub-millisecond interval does not round a refusal down to an allow", async () => {
    const limit = limitOf("check=5000/1s"); // 200 µs, no burst
    const k = key();
    const waits = await Promise.all(Array.from({ length: 300 }, () => takeToken(redis, k, limit)));
    // Sent together, most arrive within the same 200 µs slots: some must be refused, each with ≥ 1 ms.
    const refused = waits.filter((w) => w > 0);
    expect(refused.length).toBeGreaterThan(0);
    for (const w of refused) expect(w).toBeGreaterThanOrEqual(1);
  });
});
