// The default RATE_LIMITS fit what a browser does (issue 15 §4), on the real Redis: a folder
// of thumbnails opened at once is not refused, a dropped folder of files starts at once, and
// the limits still bite past their burst (one account cannot take the cluster's capacity).
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS, rateClasses } from "../src/common-config.js";
import { parseLimits, takeToken } from "../src/ratelimit/gcra.js";

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const keys: string[] = [];
afterAll(async () => {
  if (keys.length) await redis.del(...keys.map((k) => `${k}:us`));
  await redis.quit();
});
const limits = parseLimits(DEFAULT_RATE_LIMITS, rateClasses());

/** `n` calls of one user in class `cls`, `concurrency` at a time; how many were refused. */
async function refused(cls: string, n: number, concurrency = 64): Promise<number> {
  const k = `fm:test:rl:${cls}:${randomUUID()}`;
  keys.push(k);
  const limit = limits[cls]!;
  let left = n;
  let denied = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) if ((await takeToken(redis, k, limit)) > 0) denied++;
    }),
  );
  return denied;
}

describe("default per-user limits", () => {
  it("a folder of 2,000 thumbnails over 64 connections: no download refused", async () => {
    expect(await refused("download", 2000)).toBe(0);
  });

  it("a dropped folder of 1,000 files: no upload call refused", async () => {
    expect(await refused("upload", 1000)).toBe(0);
  });

  it("a folder view of 1,000 entries with a GetFile each: no read refused", async () => {
    expect(await refused("read", 1000)).toBe(0);
  });

  it("refreshes have a class of their own: 120 at once from one address pass, logins do not", async () => {
    // An office behind one NAT: its users' refreshes must not spend the address's login budget.
    expect(await refused("refresh", 120)).toBe(0);
    expect(await refused("login", 120)).toBeGreaterThanOrEqual(90);
  });

  it("past the burst, a scraper is limited", async () => {
    expect(await refused("download", 6000)).toBeGreaterThan(1000);
    expect(await refused("upload", 3000)).toBeGreaterThan(1000);
  });
});
