// Runs the processor's workers: each is a durable pull consumer on its stream (explicit ack,
// ack only after the effect is committed, nak with backoff) plus a second durable on REDRIVE
// for its redriven dead letters. After `maxDeliver` deliveries, or at once for a PoisonError,
// the event is copied to DEADLETTER and acked. JetStream's own max_deliver stays unlimited:
// a failed dead-letter publish must lead to another try, never to a silently dropped event.
import { type ConsumedEvent, type Logger, type RunningConsumer, runConsumer } from "@filemesh/kit";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { ProcessorMetrics } from "../metrics.js";
import type { DeadLetters } from "./dead-letters.js";
import { originalSubject, REDRIVE, redriveFilter } from "./topology.js";

/** An event that can never succeed (undecodable, invalid): dead-lettered on its first failure. */
export class PoisonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PoisonError";
  }
}

export interface Worker {
  /** Durable consumer name (no dots); replicas with the same name share the work. */
  name: string;
  stream: string;
  filterSubject?: string;
  /** Pull loops on the durable in this process, each handling one event at a time (default 1). */
  concurrency?: number;
  /** Messages pulled ahead per loop (default 16); keep handling time × this under ACK_WAIT. */
  maxMessages?: number;
  /** Applies the event; resolves once its effect is committed, throws to retry. */
  handle(event: ConsumedEvent): Promise<void>;
  /** Cheap check that the event was applied already (the message is acked unhandled). */
  alreadyApplied?(eventId: string): Promise<boolean>;
  /** Runs after the event went to the dead-letter stream (e.g. to show the failure). */
  onDeadLetter?(event: ConsumedEvent, reason: string): Promise<void>;
}

export interface WorkerSettings {
  maxDeliver: number;
  backoffMs: readonly number[];
  ackWaitMs: number;
}

export interface WorkerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  deadLetters: DeadLetters;
  metrics: ProcessorMetrics;
  settings: WorkerSettings;
  /** RUN_PREFIX (kit run-prefix.ts). */
  runPrefix?: string;
  log: Logger;
}

/** The handler JetStream sees: original subject restored, failures counted, dead-lettered at the end. */
export function guardedHandler(worker: Worker, stream: string, deps: WorkerDeps) {
  const { metrics, settings } = deps;
  const log = deps.log.child({ worker: worker.name });
  return async (raw: ConsumedEvent): Promise<void> => {
    const event = { ...raw, subject: originalSubject(raw.subject).subject };
    const stop = metrics.handlingSeconds.startTimer({ consumer: worker.name });
    try {
      await worker.handle(event);
      metrics.handled.inc({ consumer: worker.name, outcome: "ok" });
      return;
    } catch (err) {
      const poison = err instanceof PoisonError;
      if (!poison && event.deliveryCount < settings.maxDeliver) {
        metrics.handled.inc({ consumer: worker.name, outcome: "retry" });
        throw err;
      }
      const reason = (err as Error).message || String(err);
      await deps.deadLetters.put(worker.name, stream, event, reason);
      metrics.deadLetters.inc({ consumer: worker.name });
      metrics.handled.inc({ consumer: worker.name, outcome: "dead_letter" });
      log.error(
        { eventId: event.id, subject: event.subject, deliveries: event.deliveryCount, err: reason, poison },
        "event moved to the dead-letter stream",
      );
      await worker
        .onDeadLetter?.(event, reason)
        .catch((e: Error) => log.warn({ eventId: event.id, err: e.message }, "dead-letter follow-up failed"));
    } finally {
      stop();
    }
  };
}

/** Starts every consumer of `worker` (main loops and the redrive loop). */
export async function runWorker(worker: Worker, deps: WorkerDeps): Promise<RunningConsumer[]> {
  const { js, jsm, settings, log } = deps;
  const common = {
    js,
    jsm,
    runPrefix: deps.runPrefix ?? "",
    log: log.child({ worker: worker.name }),
    nakBackoffMs: settings.backoffMs,
    ackWaitMs: settings.ackWaitMs,
    maxDeliver: -1,
    maxMessages: worker.maxMessages ?? 16,
    ...(worker.alreadyApplied ? { alreadyApplied: (id: string) => worker.alreadyApplied!(id) } : {}),
  };
  const running: RunningConsumer[] = [];
  try {
    for (let i = 0; i < Math.max(1, worker.concurrency ?? 1); i++) {
      running.push(
        await runConsumer({
          ...common,
          stream: worker.stream,
          durable: worker.name,
          ...(worker.filterSubject ? { filterSubject: worker.filterSubject } : {}),
          handle: guardedHandler(worker, worker.stream, deps),
        }),
      );
    }
    running.push(
      await runConsumer({
        ...common,
        stream: REDRIVE.name,
        durable: `${worker.name}-redrive`,
        filterSubject: redriveFilter(worker.name),
        handle: guardedHandler(worker, REDRIVE.name, deps),
      }),
    );
  } catch (err) {
    await Promise.all(running.map((c) => c.stop()));
    throw err;
  }
  return running;
}
