// The post-upload pipeline under faults, on the real file service with the processor as a
// child process: kill -9 of the processor again and again while it works through a backlog;
// the mesh's nats-server killed and restarted during a burst of uploads; every Postgres
// backend of the mesh's database terminated (pg_terminate_backend, not a restart of the
// shared server) while uploads are processed. Each time: every acknowledged upload ends READY
// or REJECTED, each version changes state exactly once, and every outbox drains to zero.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventsv1, type filev1 } from "@filemesh/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type ProcessorMesh, startProcessorMesh } from "./support.js";
import {
  bundleProcessor,
  type ChildProcessor,
  childProcessor,
  fakePng,
  noisePng,
  uploadFile,
} from "./uploads-support.js";

let pm: ProcessorMesh;
let proc: ChildProcessor;
let bundle = "";
let user: Awaited<ReturnType<ProcessorMesh["mesh"]["newUser"]>>;
const blobDir = mkdtempSync(join(tmpdir(), "filemesh-faults-"));
const logFile = join(blobDir, "processor.log");
const blobEnv = { BLOB_DRIVER: "fs", BLOB_DIR: blobDir };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pm = await startProcessorMesh({
    services: ["auth", "permission", "user", "file"],
    serviceEnv: { file: { ...blobEnv, FILES_READY_ON_COMMIT: "false" } },
  });
  user = await pm.mesh.newUser();
  bundle = await bundleProcessor();
  proc = childProcessor(
    bundle,
    {
      ...pm.mesh.env,
      ...blobEnv,
      LOG_LEVEL: "info",
      // A killed replica's unacknowledged events come back after ACK_WAIT.
      ACK_WAIT: "3s",
      RETRY_BACKOFF: "100ms,250ms,500ms",
      MAX_DELIVER: "100",
      PIPELINE_CONCURRENCY: "2",
    },
    logFile,
  );
  await proc.start();
}, 180_000);

afterAll(async () => {
  await proc?.stop();
  await pm?.stop();
  rmSync(blobDir, { recursive: true, force: true });
  if (bundle) rmSync(bundle, { force: true });
});

/** Uploads each item (tolerating failures when `tolerant`); returns the acknowledged files. */
async function uploadAll(items: { name: string; data: Buffer }[], tolerant = false): Promise<filev1.File[]> {
  const done: filev1.File[] = [];
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      try {
        done.push(await uploadFile(pm.mesh.file, user.headers, item.name, item.data));
      } catch (err) {
        if (!tolerant) throw err;
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return done;
}

async function finalCount(files: filev1.File[]): Promise<number> {
  const { rows } = await pm.pool.query(
    "SELECT count(*)::int AS n FROM files.files WHERE id = ANY($1::uuid[]) AND state IN (3, 4)",
    [files.map((f) => f.id)],
  );
  return rows[0].n;
}

/** Every file final, one state change per version, every outbox empty. */
async function expectAllFinalOnce(files: filev1.File[], rejectedNames: Set<string>): Promise<void> {
  await eventually("every upload final", async () => (await finalCount(files)) === files.length, 120_000);
  const { rows } = await pm.pool.query(
    "SELECT id, name, state, state_reason FROM files.files WHERE id = ANY($1::uuid[])",
    [files.map((f) => f.id)],
  );
  for (const r of rows) {
    if (rejectedNames.has(r.name))
      expect(r, r.name).toMatchObject({ state: 4, state_reason: expect.stringMatching(/^IMAGE_UNREADABLE/) });
    else expect(r, r.name).toMatchObject({ state: 3, state_reason: "" });
  }
  const changes = await pm.pool.query(
    `SELECT payload FROM files.outbox WHERE subject = 'filemesh.files.file_state_changed'`,
  );
  const perVersion = new Map<string, number>();
  for (const c of changes.rows) {
    const e = eventsv1.FileStateChanged.decode(c.payload);
    perVersion.set(e.versionId, (perVersion.get(e.versionId) ?? 0) + 1);
  }
  for (const f of files) expect(perVersion.get(f.currentVersionId), f.name).toBe(1);
  await eventually(
    "every outbox drained",
    async () => {
      const r = await pm.pool.query(
        `SELECT (SELECT count(*) FROM files.outbox WHERE published_at IS NULL)
              + (SELECT count(*) FROM auth.outbox WHERE published_at IS NULL) AS n`,
      );
      return Number(r.rows[0].n) === 0;
    },
    60_000,
  );
}

async function resultsCount(): Promise<number> {
  const { rows } = await pm.pool.query("SELECT count(*)::int AS n FROM jobs.upload_results");
  return rows[0].n;
}

describe("uploads under faults", () => {
  it("kill -9 of the processor mid-work, five times over a backlog: each file final exactly once", async () => {
    await proc.kill();
    const items: { name: string; data: Buffer }[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 10 === 9) items.push({ name: `fake-${i}.png`, data: await fakePng() });
      else if (i % 2 === 0) items.push({ name: `img-${i}.png`, data: await noisePng(1000, 1000) });
      else items.push({ name: `bin-${i}.dat`, data: randomBytes(512 * 1024) });
    }
    const files = await uploadAll(items);
    const base = await resultsCount();
    let kills = 0;
    for (; kills < 5; kills++) {
      await proc.start();
      const before = await resultsCount();
      // Kill as soon as it is visibly working, while most of the backlog is still ahead.
      await eventually("progress", async () => (await resultsCount()) > before, 30_000);
      if ((await resultsCount()) - base >= files.length - 4) break;
      await proc.kill();
    }
    if (kills === 5) await proc.start();
    expect(kills).toBeGreaterThanOrEqual(3);
    await expectAllFinalOnce(
      files,
      new Set(items.filter((i) => i.name.startsWith("fake")).map((i) => i.name)),
    );
    const { rows } = await pm.pool.query(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE deliveries > 1)::int AS again FROM jobs.upload_results WHERE file_id = ANY($1::uuid[])",
      [files.map((f) => f.id)],
    );
    expect(rows[0].n).toBe(files.length);
    // Events in the hands of a killed processor came back: the kills hit work in progress.
    expect(rows[0].again).toBeGreaterThan(0);
  }, 240_000);

  it("NATS killed and restarted during a burst of uploads: nothing lost", async () => {
    const items = Array.from({ length: 40 }, (_, i) => ({
      name: `burst-${i}.dat`,
      data: randomBytes(32 * 1024 + i),
    }));
    const first = await uploadAll(items.slice(0, 15));
    await pm.nats.kill();
    const during = await uploadAll(items.slice(15, 30));
    await pause(1500);
    await pm.nats.start();
    const after = await uploadAll(items.slice(30));
    await expectAllFinalOnce([...first, ...during, ...after], new Set());
  }, 240_000);

  it("every Postgres backend of the mesh terminated during processing: nothing lost", async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({
      name: `pg-${i}.dat`,
      data: randomBytes(64 * 1024 + i),
    }));
    const uploads = uploadAll(items, true);
    let terminated = 0;
    for (let i = 0; i < 6; i++) {
      await pause(250);
      const { rows } = await pm.pool.query(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      terminated += rows[0].n;
    }
    const files = await uploads;
    expect(terminated).toBeGreaterThan(0);
    // Uploads refused while their connection died were never acknowledged; the rest must all finish.
    expect(files.length).toBeGreaterThan(0);
    await expectAllFinalOnce(files, new Set());
  }, 240_000);
});
