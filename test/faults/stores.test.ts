// Faults at mesh scale, part 2: the stores and the links. The same REPLICAS=2 mesh and
// workload as processes.test.ts, with toxiproxy between every service and each store and
// between the gateway and every replica: Redis restarted (and so flushed), NATS killed and
// restarted, Postgres connections reset and slowed by 200 ms, a store unreachable for 10 s,
// bandwidth limits and mid-transfer cuts on uploads and downloads, then several at once.
// Only retryable statuses during a fault, nothing lost after it (lib/checker.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkState, classifyAttempts, type FaultWindow, NO_FINDINGS, recoveries } from "./lib/checker.js";
import { Recorder } from "./lib/client.js";
import { type Cluster, type Store, startCluster } from "./lib/cluster.js";
import { writeReport } from "./lib/report.js";
import type { Toxic } from "./lib/toxiproxy.js";
import { startWorkload, type Workload } from "./lib/workload.js";

const SOAK = !!process.env.FAULTS_SOAK;
/** On in `npm test` (about two minutes beside the other files); FAULTS_STORES=0 skips it. */
const RUN = SOAK || process.env.FAULTS_STORES !== "0";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** After each fault: the clients' reconnect backoff (at most 2 s at the gateway) and a margin. */
const SETTLE_MS = 3_000;

let c: Cluster;
let w: Workload;
const rec = new Recorder();
const windows: FaultWindow[] = [];
const notes: string[] = [];
const timeline: { t: number; what: string }[] = [];
const describeFailure = (a: { op: string; code: string; reason: string; start: number; http: number }) =>
  `${a.op} ${a.code} ${a.reason} HTTP ${a.http} (during: ${timeline.filter((e) => e.t <= a.start).at(-1)?.what ?? "start"})`;

beforeAll(async () => {
  if (!RUN) return;
  c = await startCluster();
  w = await startWorkload(c, rec, { workers: SOAK ? 8 : 4 });
  await sleep(3_000);
}, 240_000);

afterAll(async () => {
  await w?.stop();
  w?.close();
  await c?.stop();
}, 120_000);

/** Runs one fault: `inject`, hold for `holdMs`, `heal`; the window ends when healed. */
async function fault(
  name: string,
  inject: () => Promise<unknown>,
  heal: () => Promise<unknown>,
  holdMs: number,
) {
  timeline.push({ t: Date.now(), what: name });
  const start = Date.now();
  await inject();
  await sleep(holdMs);
  await heal();
  windows.push({ name, start, end: Date.now() });
  timeline.push({ t: Date.now(), what: `after ${name}` });
  await sleep(SETTLE_MS);
}

const onStore = (store: Store, toxic: Toxic) => ({
  inject: () => Promise.all(c.storeProxies(store).map((p) => c.toxi.addToxic(p, toxic))),
  heal: () => Promise.all(c.storeProxies(store).map((p) => c.toxi.removeToxic(p, toxic.name))),
});
/** The gateway's links to the file replicas: gRPC and the HTTP listener (tus, data endpoint). */
const gatewayToFile = () => c.replicas.file.flatMap((r) => [`gw-file-${r.index}`, `gw-filehttp-${r.index}`]);
const onLinks = (proxies: () => string[], toxics: Toxic[]) => ({
  inject: () => Promise.all(proxies().flatMap((p) => toxics.map((t) => c.toxi.addToxic(p, t)))),
  heal: () => Promise.all(proxies().flatMap((p) => toxics.map((t) => c.toxi.removeToxic(p, t.name)))),
});
const unreachable = (store: Store) => ({
  inject: () => Promise.all(c.storeProxies(store).map((p) => c.toxi.setEnabled(p, false))),
  heal: () => Promise.all(c.storeProxies(store).map((p) => c.toxi.setEnabled(p, true))),
});

const expectOnlyRetryable = () => {
  const statuses = classifyAttempts(rec.attempts, windows);
  expect(statuses.internal.map(describeFailure)).toEqual([]);
  expect(statuses.unexpected.map(describeFailure)).toEqual([]);
  expect(statuses.exhaustedWithoutDelay.map(describeFailure)).toEqual([]);
  expect([...w.acks.gaveUp]).toEqual([]);
  expect(w.acks.violations).toEqual([]);
};

describe.skipIf(!RUN).sequential("stores", () => {
  it("Redis restarted (and flushed), NATS killed and restarted", { timeout: 300_000 }, async () => {
    await fault(
      "Redis restart + flush",
      () => c.redis.restart(),
      async () => {},
      0,
    );
    await fault(
      "NATS kill -9",
      () => c.nats.kill(),
      () => c.nats.start(),
      SOAK ? 10_000 : 3_000,
    );
    expectOnlyRetryable();
  });

  it("Postgres connections reset, then slowed by 200 ms", { timeout: 300_000 }, async () => {
    const reset = onStore("postgres", {
      name: "reset",
      type: "reset_peer",
      stream: "upstream",
      attributes: { timeout: 0 },
    });
    await fault("Postgres connections reset", reset.inject, reset.heal, 1_000);
    const slow = onStore("postgres", {
      name: "slow",
      type: "latency",
      attributes: { latency: 200, jitter: 20 },
    });
    await fault("Postgres +200 ms latency", slow.inject, slow.heal, SOAK ? 30_000 : 8_000);
    expectOnlyRetryable();
  });

  it("a store unreachable for 10 s", { timeout: 300_000 }, async () => {
    // MinIO unreachable is soak-only for now: it still finds UploadPart answering INTERNAL
    // (README TODO, issue 19).
    const stores: Store[] = SOAK ? ["postgres", "redis", "nats", "minio"] : ["postgres", "redis"];
    for (const s of stores) {
      const u = unreachable(s);
      await fault(`${s} unreachable 10 s`, u.inject, u.heal, 10_000);
    }
    expectOnlyRetryable();
  });

  it("bandwidth limits and mid-transfer cuts on uploads and downloads", { timeout: 300_000 }, async () => {
    const slow = onLinks(gatewayToFile, [
      { name: "bw-up", type: "bandwidth", stream: "upstream", attributes: { rate: 256 } },
      { name: "bw-down", type: "bandwidth", stream: "downstream", attributes: { rate: 256 } },
    ]);
    await fault("gateway→file at 256 KB/s", slow.inject, slow.heal, SOAK ? 20_000 : 6_000);
    // limit_data closes a connection after that many bytes: a transfer cut mid-way, again and
    // again while it lasts (every new connection is cut after as many bytes).
    const cut = onLinks(gatewayToFile, [
      { name: "cut-up", type: "limit_data", stream: "upstream", attributes: { bytes: 40_000 } },
      { name: "cut-down", type: "limit_data", stream: "downstream", attributes: { bytes: 40_000 } },
    ]);
    await fault("gateway→file cut after 40 kB", cut.inject, cut.heal, 3_000);
    if (SOAK) {
      const storeCut = onLinks(
        () => c.storeProxies("minio").filter((p) => p.startsWith("file")),
        [{ name: "cut-store", type: "limit_data", stream: "upstream", attributes: { bytes: 30_000 } }],
      );
      await fault("file→MinIO cut after 30 kB", storeCut.inject, storeCut.heal, 3_000);
    }
    expectOnlyRetryable();
  });

  it("several at once: kill -9, Redis restart, Postgres latency", { timeout: 300_000 }, async () => {
    const slow = onStore("postgres", { name: "slow2", type: "latency", attributes: { latency: 200 } });
    const file = c.replicas.file[0]!;
    const perm = c.replicas.permission[1]!;
    await fault(
      "combined: kill -9 file#0 + permission#1, Redis restart, Postgres +200 ms",
      async () => {
        await slow.inject();
        await Promise.all([file.kill(), perm.kill(), c.redis.restart()]);
      },
      async () => {
        await Promise.all([file.start(), perm.start()]);
        await slow.heal();
      },
      3_000,
    );
    expectOnlyRetryable();
  });

  it("keeps every acknowledgement (the checker)", { timeout: 300_000 }, async () => {
    await w.stop();
    const findings = await checkState(c, w);
    const ops = [...w.acks.ops].map(([k, v]) => `${k} ${v}`).join(", ");
    notes.push(`logins again after SESSION_ENDED (Redis flushed): ${w.acks.relogins}`);
    notes.push(
      `workload: ${w.users.length} users; operations ${ops}; ${rec.attempts.length} attempts, ` +
        `${w.acks.uploads.length} uploads acknowledged, ${w.acks.relations.size} relations, ${w.acks.loggedOut.length} logouts`,
    );
    writeReport("stores", { recoveries: recoveries(rec.attempts, windows), notes });
    expect(findings).toEqual(NO_FINDINGS);
    const statuses = classifyAttempts(rec.attempts, windows);
    expect(statuses.internal.map(describeFailure)).toEqual([]);
    expect(statuses.outside.map(describeFailure)).toEqual([]);
    expect(w.acks.uploads.length).toBeGreaterThan(10);
  });
});
