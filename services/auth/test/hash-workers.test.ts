// Hashes on threads of their own at a lower priority than the event loop: the same bcrypt
// results both ways, the threads' nice value as the kernel reports it, and a loop that keeps
// answering while every hash thread is busy.
import { readFileSync } from "node:fs";
import bcrypt from "bcrypt";
import { afterAll, describe, expect, it } from "vitest";
import { createHashWorkers, HASH_NICE } from "../src/domain/hash-workers.js";

const workers = createHashWorkers(2);
afterAll(() => workers.close());

/** A thread's nice value from /proc (field 19 of its stat line). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

describe("hash workers", () => {
  it("hash and compare as bcrypt does, both ways", async () => {
    const mine = await workers.hash("pre-hashed secret", 4);
    expect(bcrypt.compareSync("pre-hashed secret", mine)).toBe(true);
    expect(bcrypt.compareSync("another secret", mine)).toBe(false);
    const theirs = bcrypt.hashSync("pre-hashed secret", 4);
    expect(await workers.compare("pre-hashed secret", theirs)).toBe(true);
    expect(await workers.compare("another secret", theirs)).toBe(false);
    await expect(workers.compare("x", "not a bcrypt hash")).resolves.toBe(false);
  });

  it("runs on threads whose nice value is HASH_NICE, the loop's stays as it was", async () => {
    const own = niceOf(process.pid);
    await Promise.all([workers.hash("a", 4), workers.hash("b", 4)]);
    const threads = workers.threads();
    expect(threads).toHaveLength(2);
    for (const t of threads) {
      expect(t.tid).not.toBe(process.pid);
      expect(niceOf(t.tid)).toBe(Math.max(own, HASH_NICE));
      expect(t.nice).toBe(Math.max(own, HASH_NICE));
    }
    expect(niceOf(process.pid)).toBe(own);
  });

  it("many hashes at once all finish, at most one per thread at a time", async () => {
    const n = 9;
    const out = await Promise.all(Array.from({ length: n }, (_, i) => workers.hash(`p${i}`, 4)));
    expect(new Set(out).size).toBe(n);
    expect(await Promise.all(out.map((h, i) => workers.compare(`p${i}`, h)))).toEqual(Array(n).fill(true));
  });

  it("the event loop keeps answering while the hash threads are busy", async () => {
    const hashes = Promise.all([workers.hash("slow", 11), workers.hash("slow", 11)]);
    const t = performance.now();
    let ticks = 0;
    while (performance.now() - t < 150) {
      await new Promise((r) => setImmediate(r));
      ticks++;
    }
    expect(ticks).toBeGreaterThan(100);
    await hashes;
  });
});
