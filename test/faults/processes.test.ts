// Faults at mesh scale, part 1: the processes. REPLICAS=2 of every service (test/faults/lib/
// cluster.ts) under the mixed workload (lib/workload.ts) while every service is rolled
// (SIGTERM, wait for the exit, start — what Kubernetes does), then while one replica of each
// service in turn is killed with SIGKILL and restarted. The rolling restart must cost a client
// that retries as documented nothing at all; kill -9 only retryable statuses. The checker
// (lib/checker.ts) then holds every acknowledgement against the state. Figures: .tmp/faults/.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkState, classifyAttempts, type FaultWindow, NO_FINDINGS, recoveries } from "./lib/checker.js";
import { Recorder } from "./lib/client.js";
import { type Cluster, SERVICES, startCluster } from "./lib/cluster.js";
import { writeReport } from "./lib/report.js";
import { startWorkload, type Workload } from "./lib/workload.js";

const SOAK = !!process.env.FAULTS_SOAK;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENDPOINT_PROPAGATION_MS = 2_500;

let c: Cluster;
let w: Workload;
const rec = new Recorder();
const windows: FaultWindow[] = [];
const notes: string[] = [];
/** What the suite did when (to place each failure in the timeline of a failed run). */
const timeline: { t: number; what: string }[] = [];
const mark = (what: string) => timeline.push({ t: Date.now(), what });
const describeFailure = (a: { op: string; code: string; reason: string; start: number }) =>
  `${a.op} ${a.code} ${a.reason} (during: ${timeline.filter((e) => e.t <= a.start).at(-1)?.what ?? "start"})`;

beforeAll(async () => {
  c = await startCluster();
  w = await startWorkload(c, rec, { workers: SOAK ? 8 : 4 });
  await sleep(3_000); // load before the first fault
}, 240_000);

afterAll(async () => {
  await w?.stop();
  w?.close();
  await c?.stop();
}, 120_000);

const failuresOf = (from: number, to: number) =>
  rec.attempts.filter((a) => a.code !== "OK" && a.end >= from && a.start <= to);

describe.sequential("processes", () => {
  it("rolls every service under load without a failed request", { timeout: 300_000 }, async () => {
    const start = Date.now();
    const rounds = SOAK ? 3 : 1;
    const drains: number[] = [];
    // Every deployment rolls at once (a helm upgrade), each one replica at a time.
    const roll = async (s: (typeof SERVICES)[number]) => {
      for (const r of c.replicas[s]) {
        mark(`SIGTERM ${r.name}`);
        drains.push(await r.terminate());
        mark(`start ${r.name}`);
        await r.start();
        mark(`${r.name} SERVING`);
        // Kubernetes moves on once the new pod is Ready and its endpoint has reached the
        // clients (maxUnavailable 0, maxSurge 1 in the chart); here the replica keeps its
        // address, so the clients reconnect to it within their reconnect backoff (the
        // gateway's is at most 2 s) — wait that long before the next replica goes.
        await sleep(ENDPOINT_PROPAGATION_MS);
      }
    };
    for (let round = 0; round < rounds; round++) await Promise.all(SERVICES.map(roll));
    await sleep(2_000);
    windows.push({ name: "rolling restart (all services)", start, end: Date.now() });
    // Calls made to one pod on purpose (a Check on each permission replica) wait for it.
    const failed = failuresOf(start, Date.now()).filter((a) => !a.op.includes("@"));
    const final = failed.filter((a) => a.final);
    notes.push(
      `rolling restart: ${drains.length} replicas, SIGTERM → exit ${Math.min(...drains)}–${Math.max(...drains)} ms`,
    );
    notes.push(
      `rolling restart: ${failed.length} attempts retried (${[...new Set(failed.map((a) => `${a.op} ${a.reason}`))].join(", ") || "none"})`,
    );
    expect(final.map(describeFailure)).toEqual([]);
    // What was retried at all was retryable (UNAVAILABLE with RetryInfo, never a bare drop).
    expect(
      failed.filter((a) => a.code !== "UNAVAILABLE" || a.retryAfterMs <= 0).map(describeFailure),
    ).toEqual([]);
    expect([...w.acks.gaveUp]).toEqual([]);
    expect(w.acks.violations).toEqual([]);
  });

  it("recovers from kill -9 of one replica of each service in turn", { timeout: 300_000 }, async () => {
    for (const s of SERVICES) {
      const r = c.replicas[s][Math.floor(Math.random() * c.replicas[s].length)]!;
      const start = Date.now();
      mark(`kill -9 ${r.name}`);
      await r.kill();
      await sleep(SOAK ? 5_000 : 1_500);
      mark(`start ${r.name}`);
      await r.start();
      mark(`${r.name} SERVING`);
      windows.push({ name: `kill -9 ${r.name}`, start, end: Date.now() });
      await sleep(ENDPOINT_PROPAGATION_MS);
    }
    const statuses = classifyAttempts(rec.attempts, windows);
    expect(statuses.internal).toEqual([]);
    expect(statuses.unexpected.map(describeFailure)).toEqual([]);
    expect(statuses.exhaustedWithoutDelay).toEqual([]);
    expect([...w.acks.gaveUp]).toEqual([]);
    expect(w.acks.violations).toEqual([]);
  });

  it("keeps every acknowledgement (the checker)", { timeout: 300_000 }, async () => {
    await w.stop();
    const findings = await checkState(c, w);
    const statuses = classifyAttempts(rec.attempts, windows);
    const ops = [...w.acks.ops].map(([k, v]) => `${k} ${v}`).join(", ");
    notes.push(
      `workload: ${w.users.length} users; operations ${ops}; ${rec.attempts.length} attempts, ` +
        `${w.acks.uploads.length} uploads acknowledged, ${w.acks.relations.size} relations, ${w.acks.loggedOut.length} logouts`,
    );
    writeReport("processes", { recoveries: recoveries(rec.attempts, windows), notes });
    expect(findings).toEqual(NO_FINDINGS);
    expect(statuses.internal).toEqual([]);
    expect(statuses.outside.map((a) => `${a.op} ${a.code} ${a.reason}`)).toEqual([]);
    expect(w.acks.uploads.length).toBeGreaterThan(10);
    expect(w.acks.relations.size).toBeGreaterThan(3);
  });
});
