// Wiring of the processor, in the order docs/conventions.md gives. main.ts and the tests call it.
import { processorv1 } from "@filemesh/contracts";
import {
  createPageTokens,
  createServiceRuntime,
  FILEMESH_STREAMS,
  type Logger,
  loadPageTokenKey,
  openServiceDatabase,
  type Runtime,
  useCallerChecks,
} from "@filemesh/kit";
import type pg from "pg";
import { auditWorkers } from "./audit/audit-worker.js";
import type { ProcessorConfig } from "./config.js";
import { type BackgroundWorkers, startBackgroundWorkers } from "./events/background.js";
import { PROCESSOR_STREAMS } from "./events/topology.js";
import type { Worker } from "./events/workers.js";
import { createAdminHandlers } from "./handlers/admin-handlers.js";
import { fileJanitorTasks } from "./janitor/file-janitor-tasks.js";
import { createJanitor } from "./janitor/janitor.js";
import { type JanitorTasks, unavailableTasks } from "./janitor/janitor-tasks.js";
import { processorMetrics } from "./metrics.js";
import { createBlobs } from "./pipeline/blob-access.js";
import { type FileStates, fileStatesClient } from "./pipeline/file-states.js";
import { UPLOAD_STEPS } from "./pipeline/pipeline.js";
import type { Step } from "./pipeline/step.js";
import { uploadWorker } from "./pipeline/upload-worker.js";
import { processorSchema } from "./store/migrations.js";

export interface Processor {
  runtime: Runtime;
  workers: BackgroundWorkers;
  pool: pg.Pool;
}

export interface ProcessorOptions {
  /** Extra workers (tests). */
  extraWorkers?: (deps: { pool: pg.Pool; log: Logger }) => Worker[];
  /** Instead of FileService.SetFileState (tests). */
  fileStates?: FileStates;
  /** Instead of UPLOAD_STEPS (tests). */
  steps?: readonly Step[];
  /** Instead of the file service's janitor operations (tests). */
  janitorTasks?: JanitorTasks;
}

export async function startProcessor(
  config: ProcessorConfig,
  log: Logger,
  options: ProcessorOptions = {},
): Promise<Processor> {
  const { runtime, registry } = createServiceRuntime("processor", config, log);
  useCallerChecks(runtime, { config, registry, log });
  const metrics = processorMetrics(registry);
  const db = await openServiceDatabase(runtime, config, processorSchema, log);
  const blobs = createBlobs(config);
  // The bucket (or directory) is the file service's: a failure here shows up again on first use.
  await blobs.init().catch((err: Error) => log.warn({ err: err.message }, "blob store not ready"));
  const fileStates = options.fileStates ?? fileStatesClient(config);
  runtime.onShutdown(() => fileStates.close());
  const uploads = uploadWorker({
    prefix: config.consumerPrefix,
    pool: db.pool,
    steps: options.steps ?? UPLOAD_STEPS,
    stepDeps: { blobs, log, thumbnail: { size: config.thumbnailSize, maxBytes: config.thumbnailMaxBytes } },
    fileStates,
    metrics,
    concurrency: config.pipelineConcurrency,
    log,
  });
  const workers = startBackgroundWorkers({
    natsUrl: config.natsUrl,
    runPrefix: config.runPrefix,
    name: "processor",
    streams: PROCESSOR_STREAMS,
    workers: [
      ...auditWorkers({ prefix: config.consumerPrefix, streams: FILEMESH_STREAMS, pool: db.pool, log }),
      uploads,
      ...(options.extraWorkers?.({ pool: db.pool, log }) ?? []),
    ],
    settings: {
      maxDeliver: config.maxDeliver,
      backoffMs: config.retryBackoffMs,
      ackWaitMs: config.ackWaitMs,
    },
    metrics,
    log,
  });
  runtime.onShutdown(() => workers.stop());
  const tasks = options.janitorTasks ?? janitorTasksOf(config);
  runtime.onShutdown(() => tasks.close?.());
  const janitor = createJanitor({
    pool: db.pool,
    tasks,
    settings: {
      intervalMs: config.janitorIntervalMs,
      trashRetentionMs: config.trashRetentionMs,
      orphanGraceMs: config.orphanGraceMs,
    },
    log,
  });
  runtime.onShutdown(() => janitor.stop());
  runtime.add(
    processorv1.ProcessorServiceService,
    createAdminHandlers({
      pool: db.readPool,
      pageTokens: createPageTokens(await loadPageTokenKey(db.pool, "jobs")),
      deadLetters: workers.deadLetters,
      janitor,
    }),
  );
  await runtime.start();
  return { runtime, workers, pool: db.pool };
}

/** The file service's janitor operations, when there is a file service to call. */
function janitorTasksOf(config: ProcessorConfig): JanitorTasks {
  return config.fileAddrs.length > 0 ? fileJanitorTasks(config) : unavailableTasks;
}

/** The service as main.ts and the test mesh start it. */
export async function startProcessorService(config: ProcessorConfig, log: Logger): Promise<Runtime> {
  return (await startProcessor(config, log)).runtime;
}
