import { Counter, Gauge, type Registry } from "prom-client";

export interface RelayMetrics {
  backlog: Gauge<"schema">;
  published: Counter<"schema">;
  errors: Counter<"schema">;
  /** Claim rounds that found rows: published ÷ batches = rows per round. */
  batches: Counter<"schema">;
}

/** Reuses a metric already on the registry (several relays may share one), else creates it. */
function reuse<T>(registry: Registry | undefined, name: string, create: (registers: Registry[]) => T): T {
  const existing = registry?.getSingleMetric(name);
  return (existing as T | undefined) ?? create(registry ? [registry] : []);
}

/** The relay's metrics, labelled by schema. Without a registry they are kept but not exported. */
export function relayMetrics(registry?: Registry): RelayMetrics {
  return {
    backlog: reuse(
      registry,
      "filemesh_outbox_backlog",
      (registers) =>
        new Gauge({
          name: "filemesh_outbox_backlog",
          help: "Outbox rows not yet published to JetStream",
          labelNames: ["schema"],
          registers,
        }),
    ),
    published: reuse(
      registry,
      "filemesh_outbox_published_total",
      (registers) =>
        new Counter({
          name: "filemesh_outbox_published_total",
          help: "Outbox rows published to JetStream and marked sent",
          labelNames: ["schema"],
          registers,
        }),
    ),
    errors: reuse(
      registry,
      "filemesh_outbox_publish_errors_total",
      (registers) =>
        new Counter({
          name: "filemesh_outbox_publish_errors_total",
          help: "Failed attempts to publish an outbox row",
          labelNames: ["schema"],
          registers,
        }),
    ),
    batches: reuse(
      registry,
      "filemesh_outbox_batches_total",
      (registers) =>
        new Counter({
          name: "filemesh_outbox_batches_total",
          help: "Outbox claim rounds that found rows to publish",
          labelNames: ["schema"],
          registers,
        }),
    ),
  };
}
