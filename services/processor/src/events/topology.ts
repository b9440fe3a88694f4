// The processor's JetStream topology in code: the domain streams every service publishes to
// (kit's FILEMESH_STREAMS) plus the processor's own dead-letter and redrive streams, and the
// subject scheme that lets a dead-lettered or redriven event keep its original subject.
import { FILEMESH_STREAMS, type StreamDef } from "@filemesh/kit";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Events a worker gave up on, as `filemesh.deadletter.<worker>.<original subject>`. No age
 * limit: an entry stays until an admin redrives it (it is deleted once it is on REDRIVE).
 */
export const DEAD_LETTERS: StreamDef = {
  name: "DEADLETTER",
  subjects: ["filemesh.deadletter.>"],
  description: "filemesh events a processor worker gave up on",
  // Message id = worker + stream + sequence of the failed message: a crash between the
  // dead-letter publish and the ack stores it once; a later failure of a redriven copy is new.
  duplicateWindowMs: 2 * 60 * 1000,
  maxAgeMs: 0,
  maxBytes: -1,
  replicas: 1,
};

/**
 * Dead letters put back by RedriveDeadLetters, as `filemesh.redrive.<worker>.<original subject>`,
 * read by the worker's second consumer. Message id = event id, so the consumers' idempotency
 * key is unchanged; the short window only absorbs a crash between publish and DLQ delete.
 */
export const REDRIVE: StreamDef = {
  name: "REDRIVE",
  subjects: ["filemesh.redrive.>"],
  description: "filemesh events redriven from DEADLETTER",
  duplicateWindowMs: 5_000,
  maxAgeMs: 7 * DAY_MS,
  maxBytes: -1,
  replicas: 1,
};

/** Every stream the processor creates or converges at start. */
export const PROCESSOR_STREAMS: readonly StreamDef[] = [...FILEMESH_STREAMS, DEAD_LETTERS, REDRIVE];

const DEAD_PREFIX = "filemesh.deadletter.";
const REDRIVE_PREFIX = "filemesh.redrive.";

export const deadLetterSubject = (worker: string, subject: string) => `${DEAD_PREFIX}${worker}.${subject}`;
export const redriveSubject = (worker: string, subject: string) => `${REDRIVE_PREFIX}${worker}.${subject}`;
export const redriveFilter = (worker: string) => `${REDRIVE_PREFIX}${worker}.>`;
export const deadLetterFilter = (worker?: string) => `${DEAD_PREFIX}${worker ? `${worker}.` : ""}>`;

/**
 * Splits a dead-letter or redrive subject into worker and original subject; any other
 * subject is its own original. Worker names hold no dots, so the first token is the worker.
 */
export function originalSubject(subject: string): { worker?: string; subject: string } {
  for (const prefix of [DEAD_PREFIX, REDRIVE_PREFIX]) {
    if (!subject.startsWith(prefix)) continue;
    const rest = subject.slice(prefix.length);
    const dot = rest.indexOf(".");
    if (dot > 0) return { worker: rest.slice(0, dot), subject: rest.slice(dot + 1) };
  }
  return { subject };
}
