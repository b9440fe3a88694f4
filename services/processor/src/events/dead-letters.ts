// The dead-letter stream: what a worker gave up on, listed and redriven by the admin RPC.
// An entry carries the original payload and headers plus why and after how many deliveries.
import {
  type ConsumedEvent,
  EVENT_TYPE_HEADER,
  plainSubject,
  runName,
  runSubject,
  TRACEPARENT_HEADER,
} from "@filemesh/kit";
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { DEAD_LETTERS, deadLetterSubject, originalSubject, redriveSubject } from "./topology.js";

export const EVENT_ID_HEADER = "Filemesh-Event-Id";
export const ERROR_HEADER = "Filemesh-Error";
export const DELIVERIES_HEADER = "Filemesh-Deliveries";

export interface DeadLetter {
  /** Sequence in DEADLETTER. */
  seq: number;
  worker: string;
  /** The event's own subject, e.g. filemesh.files.file_uploaded. */
  subject: string;
  eventId: string;
  type: string;
  error: string;
  deliveries: number;
  time: Date;
}

export interface DeadLetters {
  /** Stores `event` (as `worker` saw it on `stream`) with the reason it failed. */
  put(worker: string, stream: string, event: ConsumedEvent, reason: string): Promise<void>;
  list(): Promise<DeadLetter[]>;
  /**
   * Puts the entries with these event ids (all when empty) back for their worker; returns how
   * many. An entry whose event was redriven less than REDRIVE's duplicate window ago stays.
   */
  redrive(eventIds: readonly string[]): Promise<number>;
}

const oneLine = (s: string, max = 400) => s.replace(/[\r\n]+/g, " ").slice(0, max);

function isNoMessage(err: unknown): boolean {
  const e = err as { code?: number | string; message?: string; api_error?: { err_code?: number } };
  return e?.api_error?.err_code === 10037 || /no message found/i.test(e?.message ?? "");
}

function toDeadLetter(m: StoredMsg, runPrefix: string): DeadLetter | undefined {
  const { worker, subject } = originalSubject(plainSubject(runPrefix, m.subject));
  if (!worker) return undefined;
  return {
    seq: m.seq,
    worker,
    subject,
    eventId: m.header.get(EVENT_ID_HEADER),
    type: m.header.get(EVENT_TYPE_HEADER),
    error: m.header.get(ERROR_HEADER),
    deliveries: Number(m.header.get(DELIVERIES_HEADER)) || 0,
    time: m.time,
  };
}

/** `runPrefix` (RUN_PREFIX): the run's own DEADLETTER and REDRIVE streams and subjects. */
export function createDeadLetters(js: JetStreamClient, jsm: JetStreamManager, runPrefix = ""): DeadLetters {
  const stream = runName(runPrefix, DEAD_LETTERS.name);
  /** Every entry with its stored message, oldest first (redriven entries are deleted: gaps). */
  async function scan(): Promise<{ letter: DeadLetter; msg: StoredMsg }[]> {
    const { state } = await jsm.streams.info(stream);
    const out: { letter: DeadLetter; msg: StoredMsg }[] = [];
    if (state.messages === 0) return out;
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq }).catch((err: unknown) => {
        if (isNoMessage(err)) return null;
        throw err;
      });
      const letter = msg ? toDeadLetter(msg, runPrefix) : undefined;
      if (msg && letter) out.push({ letter, msg });
    }
    return out;
  }

  return {
    async put(worker, stream, event, reason) {
      const h = natsHeaders();
      h.set(EVENT_ID_HEADER, event.id);
      h.set(EVENT_TYPE_HEADER, event.type);
      h.set(ERROR_HEADER, oneLine(reason));
      h.set(DELIVERIES_HEADER, String(event.deliveryCount));
      if (event.traceparent) h.set(TRACEPARENT_HEADER, event.traceparent);
      await js.publish(runSubject(runPrefix, deadLetterSubject(worker, event.subject)), event.payload, {
        msgID: `${worker}:${stream}:${event.streamSeq}`,
        headers: h,
      });
    },

    async list() {
      return (await scan()).map((e) => e.letter);
    },

    async redrive(eventIds) {
      const wanted = new Set(eventIds);
      let count = 0;
      for (const { letter, msg } of await scan()) {
        if (wanted.size > 0 && !wanted.has(letter.eventId)) continue;
        const h = natsHeaders();
        h.set(EVENT_TYPE_HEADER, letter.type);
        const tp = msg.header.get(TRACEPARENT_HEADER);
        if (tp) h.set(TRACEPARENT_HEADER, tp);
        const ack = await js.publish(
          runSubject(runPrefix, redriveSubject(letter.worker, letter.subject)),
          msg.data,
          {
            msgID: letter.eventId,
            headers: h,
          },
        );
        // A duplicate was not stored: the same event was redriven within REDRIVE's short window
        // (and may have failed again since). The entry stays for the next redrive.
        if (ack.duplicate) continue;
        await jsm.streams.deleteMessage(stream, letter.seq, false);
        count++;
      }
      return count;
    },
  };
}
