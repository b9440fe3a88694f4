// Measurement, not a test (skipped unless PROCESSOR_BENCH=1; nothing is asserted about speed):
// small uploads through outbox → relay → JetStream → processor → SetFileState, with the
// processor as a child process. Prints upload (commit) rate, the rate files reach their final
// state, and the commit → final-state time (p50/p99) from jobs.upload_results; then how fast
// a backlog of as many uploads drains once the processor starts (JetStream → final state).
//   PROCESSOR_BENCH=1 BENCH_FILES=1000 BENCH_CONCURRENCY=32 npx vitest run services/processor/test/perf.test.ts
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { eventually, startProcessorMesh } from "./support.js";
import { bundleProcessor, childProcessor, uploadFile } from "./uploads-support.js";

const env = process.env;
const FILES = Number(env["BENCH_FILES"] ?? 1000);
const CONCURRENCY = Number(env["BENCH_CONCURRENCY"] ?? 32);
const PIPELINE = env["BENCH_PIPELINE_CONCURRENCY"] ?? "8";

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

describe.skipIf(env["PROCESSOR_BENCH"] !== "1")("processor throughput", () => {
  it("small uploads, commit to final state", async () => {
    const blobDir = mkdtempSync(join(tmpdir(), "filemesh-bench-"));
    const blobEnv = { BLOB_DRIVER: "fs", BLOB_DIR: blobDir };
    const pm = await startProcessorMesh({
      services: ["auth", "permission", "user", "file"],
      serviceEnv: { file: { ...blobEnv, FILES_READY_ON_COMMIT: "false", LOG_LEVEL: "warn" } },
      env: { LOG_LEVEL: "warn" },
    });
    const bundle = await bundleProcessor();
    const proc = childProcessor(
      bundle,
      { ...pm.mesh.env, ...blobEnv, LOG_LEVEL: "info", PIPELINE_CONCURRENCY: PIPELINE },
      join(blobDir, "processor.log"),
    );
    try {
      await proc.start();
      const users = await Promise.all(Array.from({ length: 8 }, () => pm.mesh.newUser()));
      let next = 0;
      const suffix = () => randomBytes(3).toString("hex");
      const started = Date.now();
      const worker = async (w: number) => {
        for (let i = next++; i < FILES; i = next++) {
          const u = users[(w + i) % users.length]!;
          await uploadFile(pm.mesh.file, u.headers, `f-${i}-${suffix()}.bin`, randomBytes(1024));
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
      const uploaded = Date.now();
      await eventually(
        "all processed",
        async () => {
          const { rows } = await pm.pool.query("SELECT count(*)::int AS n FROM jobs.upload_results");
          return rows[0].n >= FILES;
        },
        600_000,
      );
      const done = Date.now();
      const { rows } = await pm.pool.query(
        `SELECT extract(epoch FROM finish_time - commit_time) * 1000 AS ms FROM jobs.upload_results ORDER BY 1`,
      );
      const lat = rows.map((r) => Number(r.ms));
      const relay = await pm.pool.query(
        `SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM files.outbox
         WHERE subject = 'filemesh.files.file_uploaded' ORDER BY 1`,
      );
      const relayMs = relay.rows.map((r) => Number(r.ms));
      const audit = await pm.pool.query("SELECT count(*)::int AS n FROM jobs.audit_events");
      const report = {
        files: FILES,
        uploaders: CONCURRENCY,
        pipelineConcurrency: Number(PIPELINE),
        uploadsPerSecond: Math.round((FILES * 1000) / (uploaded - started)),
        processedPerSecond: Math.round((FILES * 1000) / (done - started)),
        commitToFinalMs: {
          p50: Math.round(pct(lat, 50)),
          p90: Math.round(pct(lat, 90)),
          p99: Math.round(pct(lat, 99)),
          max: Math.round(lat[lat.length - 1] ?? NaN),
        },
        commitToPublishedMs: { p50: Math.round(pct(relayMs, 50)), p99: Math.round(pct(relayMs, 99)) },
        auditRows: audit.rows[0].n,
      };
      // Drain: the same number of uploads waits in FILES while the processor is stopped.
      await proc.stop();
      next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
      const restarted = Date.now();
      await proc.start();
      await eventually(
        "backlog drained",
        async () => {
          const { rows } = await pm.pool.query("SELECT count(*)::int AS n FROM jobs.upload_results");
          return rows[0].n >= 2 * FILES;
        },
        600_000,
      );
      const drainedPerSecond = Math.round((FILES * 1000) / (Date.now() - restarted));
      console.log(`processor bench: ${JSON.stringify({ ...report, drainedPerSecond })}`);
    } finally {
      await proc.stop();
      await pm.stop();
      rmSync(bundle, { force: true });
      rmSync(blobDir, { recursive: true, force: true });
    }
  }, 900_000);
});
