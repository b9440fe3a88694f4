import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  PubHeaders,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { plainSubject, runName, runSubject } from "../run-prefix.js";
import { EVENT_TYPE_HEADER, TRACEPARENT_HEADER } from "./outbox.js";

/** An event as a consumer sees it. */
export interface ConsumedEvent {
  /** The event id (`Nats-Msg-Id`): the idempotency key. */
  id: string;
  subject: string;
  type: string;
  payload: Uint8Array;
  traceparent?: string;
  streamSeq: number;
  /** 1 on first delivery. */
  deliveryCount: number;
}

export interface ConsumerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  /** Durable name: replicas sharing it share the work. */
  durable: string;
  filterSubject?: string;
  /** RUN_PREFIX: stream, durable and filter are the run's own; events show the plain subject. */
  runPrefix?: string;
  log: Logger;
  /**
   * Applies the event; resolve only once its effect is committed (use `applyOnce` so a
   * redelivery does nothing). A throw naks the message for redelivery after a backoff.
   */
  handle: (event: ConsumedEvent) => Promise<void>;
  /** Optional cheap pre-check: true means "already applied", the message is acked unhandled. */
  alreadyApplied?: (eventId: string) => Promise<boolean>;
  /** Redelivery delays after failures, indexed by delivery count (last one repeats). */
  nakBackoffMs?: readonly number[];
  /** -1 (default) retries forever; otherwise the message is terminated after this many tries. */
  maxDeliver?: number;
  ackWaitMs?: number;
  /** Pull batch size (default 64); messages are handled one at a time, in order. */
  maxMessages?: number;
}

export interface RunningConsumer {
  /** Stops pulling, lets the message in hand finish and be acked. */
  stop(): Promise<void>;
}

const DEFAULT_BACKOFF = [500, 2000, 10_000, 30_000, 60_000];

function toEvent(m: JsMsg, runPrefix: string): ConsumedEvent | undefined {
  const id = m.headers?.get(PubHeaders.MsgIdHdr) ?? "";
  if (!id) return undefined;
  const traceparent = m.headers?.get(TRACEPARENT_HEADER) ?? "";
  return {
    id,
    subject: plainSubject(runPrefix, m.subject),
    type: m.headers?.get(EVENT_TYPE_HEADER) ?? "",
    payload: m.data,
    ...(traceparent ? { traceparent } : {}),
    streamSeq: m.seq,
    deliveryCount: m.info.deliveryCount,
  };
}

/** Creates the durable pull consumer, or brings its config up to date. */
async function ensureConsumer(opts: ConsumerOptions): Promise<void> {
  const cfg: Partial<ConsumerConfig> = {
    durable_name: opts.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_deliver: opts.maxDeliver ?? -1,
    ...(opts.filterSubject ? { filter_subject: opts.filterSubject } : {}),
  };
  try {
    await opts.jsm.consumers.add(opts.stream, cfg);
  } catch (addErr) {
    // Most likely it exists with an older config; otherwise report both failures.
    const { durable_name: _ignored, deliver_policy: _fixed, ...update } = cfg;
    await opts.jsm.consumers.update(opts.stream, opts.durable, update).catch((err: Error) => {
      throw new Error(
        `consumer ${opts.stream}/${opts.durable}: create failed (${(addErr as Error).message}), update failed (${err.message})`,
        { cause: err },
      );
    });
  }
}

/**
 * Runs a durable pull consumer with explicit acks: each message is acked only after `handle`
 * resolved, nak'ed with a backoff when it threw. Delivery is at least once; idempotency comes
 * from the handler (`applyOnce`) or `alreadyApplied`.
 */
export async function runConsumer(plain: ConsumerOptions): Promise<RunningConsumer> {
  const prefix = plain.runPrefix ?? "";
  const opts: ConsumerOptions = {
    ...plain,
    stream: runName(prefix, plain.stream),
    durable: runName(prefix, plain.durable),
    ...(plain.filterSubject ? { filterSubject: runSubject(prefix, plain.filterSubject) } : {}),
  };
  const log = opts.log.child({ component: "consumer", stream: opts.stream, durable: opts.durable });
  const backoff = opts.nakBackoffMs ?? DEFAULT_BACKOFF;
  const maxDeliver = opts.maxDeliver ?? -1;
  const heartbeatMs = Math.max(250, Math.floor((opts.ackWaitMs ?? 30_000) / 3));
  await ensureConsumer(opts);
  const consumer = await opts.js.consumers.get(opts.stream, opts.durable);
  const messages = await consumer.consume({ max_messages: opts.maxMessages ?? 64 });

  const settle = async (m: JsMsg) => {
    const event = toEvent(m, prefix);
    if (!event) {
      log.error({ subject: m.subject, seq: m.seq }, "event without Nats-Msg-Id; terminated");
      m.term("missing Nats-Msg-Id");
      return;
    }
    // While the event is handled, JetStream hears that it is (working(): the ack wait starts
    // over), so ACK_WAIT bounds how long a dead process holds a message, not how long a live
    // one may take. (Messages pulled ahead still wait under ACK_WAIT: keep maxMessages × the
    // usual handling time below it; an expired one is redelivered, which idempotency absorbs.)
    m.working();
    const beat = setInterval(() => m.working(), heartbeatMs);
    beat.unref();
    try {
      if (!(opts.alreadyApplied && (await opts.alreadyApplied(event.id)))) await opts.handle(event);
    } catch (err) {
      const count = event.deliveryCount;
      const fields = {
        eventId: event.id,
        subject: event.subject,
        deliveryCount: count,
        err: (err as Error).message,
      };
      if (maxDeliver > 0 && count >= maxDeliver) {
        log.error(fields, "event handler failed for the last time; terminated");
        m.term("handler failed");
        return;
      }
      log.warn(fields, "event handler failed; will retry");
      m.nak(backoff[Math.min(count, backoff.length) - 1] ?? 1000);
      return;
    } finally {
      clearInterval(beat);
    }
    // Lost acks just mean a redelivery, which the idempotency check absorbs.
    await m
      .ackAck()
      .catch((err: Error) => log.warn({ eventId: event.id, err: err.message }, "ack not confirmed"));
  };

  const done = (async () => {
    for await (const m of messages) await settle(m);
  })().catch((err: unknown) => log.error({ err: (err as Error).message }, "consumer loop ended"));

  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
}
