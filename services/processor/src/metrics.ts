// The processor's domain metrics (besides the kit's gRPC metrics).
import { Counter, Histogram, type Registry } from "@filemesh/kit";

export interface ProcessorMetrics {
  /** Events moved to the dead-letter stream, by worker. */
  deadLetters: Counter<"consumer">;
  /** Deliveries by worker and outcome: ok, retry, dead_letter. */
  handled: Counter<"consumer" | "outcome">;
  handlingSeconds: Histogram<"consumer">;
  /** Uploads brought to a final state, by state (READY, REJECTED). */
  uploads: Counter<"state">;
  /** From the upload's commit (the event's occur_time) to its final state. */
  uploadSeconds: Histogram<"state">;
}

export function processorMetrics(registry: Registry): ProcessorMetrics {
  const registers = [registry];
  return {
    deadLetters: new Counter({
      name: "filemesh_dead_letters_total",
      help: "Events moved to the dead-letter stream after their last delivery",
      labelNames: ["consumer"],
      registers,
    }),
    handled: new Counter({
      name: "filemesh_events_handled_total",
      help: "Event deliveries handled by processor workers, by outcome (ok, retry, dead_letter)",
      labelNames: ["consumer", "outcome"],
      registers,
    }),
    handlingSeconds: new Histogram({
      name: "filemesh_event_handling_seconds",
      help: "Time to handle one event delivery",
      labelNames: ["consumer"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    uploads: new Counter({
      name: "filemesh_uploads_processed_total",
      help: "Uploads the post-upload pipeline brought to a final state",
      labelNames: ["state"],
      registers,
    }),
    uploadSeconds: new Histogram({
      name: "filemesh_upload_processing_seconds",
      help: "Time from an upload's commit to its final state (READY or REJECTED)",
      labelNames: ["state"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
  };
}
