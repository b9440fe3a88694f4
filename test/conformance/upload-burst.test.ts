// Issue 15 §2 and §4 end to end, through the gateway and a real mesh (fs driver): a burst of
// concurrent 64 KiB uploads from 50 users all complete — no 5xx, no DATABASE_BUSY — with the
// file service on a pool of 4 connections, so the admission queue carries the burst; then a
// browser opening a folder of thumbnails (1,000 downloads over 64 connections) is not refused
// by the default per-user limits. UPLOAD_BURST sets the count: 300 by default for CI time,
// `UPLOAD_BURST=1000 npx vitest run test/conformance/upload-burst.test.ts` for the seed's;
// UPLOAD_BURST_POOL sets the file service's DATABASE_POOL_SIZE (4).
import { randomBytes } from "node:crypto";
import { DEFAULT_RATE_LIMITS } from "@filemesh/kit";
import { liftedRateLimits } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient, sha } from "./file-client.js";
import { startTarget, type Target } from "./target.js";

const BURST = Number(process.env.UPLOAD_BURST ?? 300);
const USERS = 50;
const SIZE = 64 * 1024;
/** The defaults for uploads and downloads (what this test is about); the rest lifted. */
const limits = liftedRateLimits(
  Object.fromEntries(
    DEFAULT_RATE_LIMITS.split(",")
      .filter((l) => /^(upload|download)=/.test(l))
      .map((l) => l.split("=") as [string, string]),
  ),
);

let t: Target;
beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    env: { RATE_LIMITS: limits },
    serviceEnv: { file: { DATABASE_POOL_SIZE: process.env.UPLOAD_BURST_POOL ?? "4" } },
  });
}, 120_000);
afterAll(() => t?.stop());

const { signup, raw } = fileClient(() => t.base);

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe("upload burst", () => {
  it(`${BURST} concurrent 64 KiB uploads from ${USERS} users: all 200, size and SHA-256 committed; a thumbnail folder downloads without a refusal`, async () => {
    expect(DEFAULT_RATE_LIMITS).toMatch(/download=/);
    const users = await pool(
      Array.from({ length: USERS }, (_, i) => i),
      10,
      () => signup(),
    );
    const bodies = Array.from({ length: BURST }, () => randomBytes(SIZE));
    const started = performance.now();
    const answers = await Promise.all(
      bodies.map((data, i) =>
        raw("POST", `/v1/files:upload?name=burst-${i}.bin&sha256=${sha(data)}`, users[i % USERS]!.auth, data),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const statuses: Record<number, number> = {};
    for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    const refused = answers.find((a) => a.status !== 200);
    expect(statuses, refused?.bytes.toString().slice(0, 300)).toEqual({ 200: BURST });
    const files = answers.map((a) => JSON.parse(a.bytes.toString()));
    files.forEach((f, i) => {
      expect(f).toMatchObject({ state: "READY", sizeBytes: String(SIZE), sha256: sha(bodies[i]!) });
    });
    console.log(`${BURST} uploads in ${seconds.toFixed(1)} s (${(BURST / seconds).toFixed(0)}/s)`);

    // A browser opening user 0's folder: every thumbnail, 1,000 requests over 64 connections.
    const mine = files.map((f, i) => ({ f, i })).filter(({ i }) => i % USERS === 0);
    const gets = Array.from({ length: 1000 }, (_, k) => mine[k % mine.length]!);
    const downloads = await pool(gets, 64, async ({ f, i }) => {
      const res = await raw("GET", `/v1/files/${f.id}/content`, users[0]!.auth);
      return { status: res.status, ok: res.status === 200 && res.bytes.equals(bodies[i]!) };
    });
    const byStatus: Record<number, number> = {};
    for (const d of downloads) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
    expect(byStatus).toEqual({ 200: 1000 });
    expect(downloads.every((d) => d.ok)).toBe(true);
  }, 600_000);
});
