import {
  blobSpec,
  commonSpec,
  databaseSpec,
  duration,
  int,
  list,
  natsSpec,
  parseConfig,
  redisSpec,
  str,
} from "@filemesh/kit";

const MiB = 1024 * 1024;

export const processorSpec = {
  ...commonSpec("processor"),
  ...databaseSpec(),
  ...redisSpec(),
  ...natsSpec(),
  /** Prefix of every durable consumer name; replicas with the same prefix share the work. */
  consumerPrefix: str("CONSUMER_PREFIX", { default: "processor" }),
  /** Deliveries of one event before it goes to the dead-letter stream. */
  maxDeliver: int("MAX_DELIVER", { default: 8, min: 1, max: 1000 }),
  /** Redelivery delays after a failed delivery, by delivery count (the last one repeats). */
  retryBackoff: list("RETRY_BACKOFF", { default: ["1s", "5s", "15s", "30s", "1m", "2m", "5m"] }),
  /**
   * How long a delivered event may go without an ack or a heartbeat before JetStream
   * redelivers it: the worker handling it sends working() every third of it (kit
   * events/consumer.ts), so this bounds how long a killed processor holds the events it had
   * pulled, not how long one may take.
   */
  ackWaitMs: duration("ACK_WAIT", { default: 30_000 }),
  /** Uploads processed at once by one replica. */
  pipelineConcurrency: int("PIPELINE_CONCURRENCY", { default: 4, min: 1, max: 64 }),
  /** Longest side of a thumbnail in pixels. */
  thumbnailSize: int("THUMBNAIL_SIZE", { default: 256, min: 16, max: 2048 }),
  /** Larger images get no thumbnail (they are still READY). */
  thumbnailMaxBytes: int("THUMBNAIL_MAX_BYTES", { default: 64 * MiB, min: 1 }),
  /** Between scheduled janitor passes; 0 = only on demand (RunJanitor). */
  janitorIntervalMs: duration("JANITOR_INTERVAL", { default: 15 * 60_000 }),
  /** Trash older than this is purged. */
  trashRetentionMs: duration("TRASH_RETENTION", { default: 30 * 86_400_000 }),
  /** Orphans (objects without rows, rows without objects) younger than this are left alone. */
  orphanGraceMs: duration("ORPHAN_GRACE", { default: 24 * 3_600_000 }),
  /** Items per janitor call to the file service (it is called again while there are more). */
  janitorBatchSize: int("JANITOR_BATCH", { default: 100, min: 1, max: 1000 }),
  /** The file service's blob store, read for checks and written for thumbnails (same settings). */
  ...blobSpec(),
};

export type ProcessorConfig = ReturnType<typeof loadProcessorConfig>;

/** Parses RETRY_BACKOFF's durations ("500ms", "5s", …) into milliseconds. */
function parseBackoff(values: readonly string[]): number[] {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return values.map((v) => {
    const m = /^(\d+)(ms|s|m|h)$/.exec(v);
    if (!m)
      throw new Error(
        `invalid configuration:\n  - RETRY_BACKOFF has an invalid duration ${JSON.stringify(v)}`,
      );
    return Number(m[1]) * (units[m[2] ?? "ms"] ?? 1);
  });
}

export function loadProcessorConfig(env: Record<string, string | undefined> = process.env) {
  const config = parseConfig(processorSpec, env);
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(config.consumerPrefix)) {
    throw new Error("invalid configuration:\n  - CONSUMER_PREFIX must be 1-41 characters of a-z, 0-9 and -");
  }
  return { ...config, retryBackoffMs: parseBackoff(config.retryBackoff) };
}
