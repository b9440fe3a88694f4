// The janitor's processor side against recorded file-service operations: RunJanitor for admins
// with the configured cut-offs, one pass at a time across replicas, the schedule, failed passes
// recorded, and FILE_SERVICE_UNAVAILABLE when the file service does not answer (the real file
// service's side: janitor-files.test.ts).
import { processorv1 } from "@filemesh/contracts";
import { createLogger } from "@filemesh/kit";
import { call, failure } from "@filemesh/kit/testing";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Processor, startProcessor } from "../src/app.js";
import { loadProcessorConfig } from "../src/config.js";
import type { JanitorTasks } from "../src/janitor/janitor-tasks.js";
import { eventually, type ProcessorMesh, startProcessorMesh } from "./support.js";

const HOUR = 3_600_000;
let pm: ProcessorMesh;
const procs: Processor[] = [];
const seen: { task: string; at: Date }[] = [];
let gate: Promise<void> | undefined;
let failNext = false;

const tasks: JanitorTasks = {
  available: true,
  async expireUploads(now) {
    seen.push({ task: "uploads", at: now });
    await gate;
    if (failNext) {
      failNext = false;
      throw new Error("file service said no");
    }
    return 2;
  },
  async purgeTrash(cutoff) {
    seen.push({ task: "trash", at: cutoff });
    return 3;
  },
  async reconcileOrphans(cutoff) {
    seen.push({ task: "orphans", at: cutoff });
    return { removedObjects: 4, abortedUploads: 5, markedRows: 1 };
  },
};

async function replica(interval: string): Promise<processorv1.ProcessorServiceClient> {
  const config = loadProcessorConfig({
    ...pm.mesh.env,
    CONSUMER_PREFIX: "jan",
    JANITOR_INTERVAL: interval,
    TRASH_RETENTION: "7d",
    ORPHAN_GRACE: "1h",
    LOG_LEVEL: "silent",
  });
  const p = await startProcessor(config, createLogger({ service: "processor", level: "silent" }), {
    janitorTasks: tasks,
  });
  procs.push(p);
  return new processorv1.ProcessorServiceClient(`127.0.0.1:${p.runtime.port}`, credentials.createInsecure());
}

const runJanitor = (c: processorv1.ProcessorServiceClient, headers = pm.admin.headers) =>
  call(c.runJanitor.bind(c), {}, headers);

beforeAll(async () => {
  // The mesh's own processor calls a file service that does not answer (a closed port).
  pm = await startProcessorMesh({
    services: ["auth", "processor"],
    serviceEnv: { processor: { FILE_ADDRS: "127.0.0.1:1", CLIENT_TIMEOUT: "2s" } },
  });
});

afterAll(async () => {
  for (const p of procs) await p.runtime.shutdown("test end");
  await pm?.stop();
});

describe("janitor", () => {
  it("runs a pass on demand with the configured cut-offs, for admins only", async () => {
    const c = await replica("0s");
    const before = Date.now();
    expect(await runJanitor(c)).toEqual({
      expiredUploads: 2,
      purgedTrash: 3,
      removedOrphanObjects: 4,
      markedMissingRows: 1,
      abortedOrphanUploads: 5,
    });
    const at = (task: string) => seen.find((s) => s.task === task)!.at.getTime();
    expect(Math.abs(at("uploads") - before)).toBeLessThan(60_000);
    expect(at("uploads") - at("trash")).toBe(7 * 24 * HOUR);
    expect(at("uploads") - at("orphans")).toBe(HOUR);
    const user = await pm.mesh.newUser();
    expect(await failure(runJanitor(c, user.headers))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "ADMIN_REQUIRED",
    });
    const { rows } = await pm.pool.query("SELECT trigger, counts, error FROM jobs.janitor_runs");
    expect(rows).toEqual([
      {
        trigger: "admin",
        counts: {
          expiredUploads: 2,
          purgedTrash: 3,
          removedOrphanObjects: 4,
          markedMissingRows: 1,
          abortedOrphanUploads: 5,
        },
        error: "",
      },
    ]);
  });

  it("runs one pass at a time across replicas, and records a failed one", async () => {
    const a = await replica("0s");
    const b = await replica("0s");
    let open: () => void = () => {};
    gate = new Promise((r) => {
      open = r;
    });
    const first = runJanitor(a);
    await eventually("the first pass under way", async () => seen.length > 3);
    expect(await failure(runJanitor(b))).toMatchObject({ code: status.ABORTED, reason: "JANITOR_RUNNING" });
    open();
    gate = undefined;
    expect((await first).expiredUploads).toBe(2);

    failNext = true;
    expect((await failure(runJanitor(b))).code).toBe(status.INTERNAL);
    const { rows } = await pm.pool.query("SELECT error FROM jobs.janitor_runs WHERE error <> ''");
    expect(rows).toEqual([{ error: "file service said no" }]);
  });

  it("runs on its schedule", async () => {
    await replica("200ms");
    await eventually("scheduled passes", async () => {
      const { rows } = await pm.pool.query(
        "SELECT count(*)::int AS n FROM jobs.janitor_runs WHERE trigger = 'schedule' AND error = ''",
      );
      return rows[0].n >= 2;
    });
  });

  it("answers UNAVAILABLE / FILE_SERVICE_UNAVAILABLE while the file service does not answer", async () => {
    expect(await failure(runJanitor(pm.mesh.processor))).toMatchObject({
      code: status.UNAVAILABLE,
      reason: "FILE_SERVICE_UNAVAILABLE",
    });
    const { rows } = await pm.pool.query(
      "SELECT error FROM jobs.janitor_runs WHERE error LIKE '%did not answer%'",
    );
    expect(rows).toHaveLength(1);
  });
});
