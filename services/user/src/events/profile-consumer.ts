// Creates profiles from auth's user_registered events: a durable JetStream consumer shared by
// the replicas, each event applied once (applyOnce records its id in the same transaction).
// NATS is connected in the background, so the service starts (and GetMe still works through
// the lazy path) while NATS is away.
import { eventsv1 } from "@filemesh/contracts";
import {
  AUTH,
  applyOnce,
  type ConsumedEvent,
  connectNats,
  ensureStreams,
  FILEMESH_STREAMS,
  type Logger,
  type NatsHandle,
  type RunningConsumer,
  runConsumer,
} from "@filemesh/kit";
import type pg from "pg";
import { isUuid } from "../domain/validate.js";
import { insertProfile } from "../store/profiles.js";

export const PROFILE_CONSUMER = "user-profiles";

export interface ProfileConsumer {
  /** Resolves once the consumer runs (tests wait on it). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** Applies one user_registered event; resolves after the profile (if new) is committed. */
export async function applyUserRegistered(
  pool: pg.Pool,
  event: Pick<ConsumedEvent, "id" | "payload">,
  log: Logger,
  onCreated: (userId: string) => Promise<void>,
): Promise<void> {
  let e: eventsv1.UserRegistered;
  try {
    e = eventsv1.UserRegistered.decode(event.payload);
  } catch {
    log.error({ eventId: event.id }, "undecodable user_registered event; skipped");
    return;
  }
  const userId = e.userId.toLowerCase();
  if (!isUuid(userId) || !e.email) {
    log.error({ eventId: event.id }, "user_registered event without a valid user id or email; skipped");
    return;
  }
  let created = false;
  await applyOnce(pool, "users", PROFILE_CONSUMER, event.id, async (tx) => {
    created = await insertProfile(tx, {
      id: userId,
      email: e.email,
      displayName: e.displayName || e.email.slice(0, e.email.indexOf("@")),
      createTime: e.meta?.occurTime,
    });
  });
  if (created) await onCreated(userId);
}

export function startProfileConsumer(opts: {
  natsUrl: string;
  /** RUN_PREFIX (kit run-prefix.ts). */
  runPrefix?: string;
  pool: pg.Pool;
  log: Logger;
  onCreated: (userId: string) => Promise<void>;
}): ProfileConsumer {
  const log = opts.log.child({ component: "profile-consumer" });
  let nats: NatsHandle | undefined;
  let consumer: RunningConsumer | undefined;
  let stopped = false;
  const ready = (async () => {
    nats = await connectNats({ url: opts.natsUrl, name: "user-profiles", log, waitOnFirstConnect: true });
    while (!stopped) {
      try {
        await ensureStreams(nats.jsm, FILEMESH_STREAMS, opts.runPrefix);
        consumer = await runConsumer({
          js: nats.js,
          jsm: nats.jsm,
          stream: AUTH.name,
          durable: PROFILE_CONSUMER,
          filterSubject: "filemesh.auth.user_registered",
          runPrefix: opts.runPrefix ?? "",
          // The effect is one insert: a short ack wait and small pulls mean the messages a
          // stopping replica had pulled but not handled come back to the others soon.
          ackWaitMs: 10_000,
          maxMessages: 8,
          log,
          handle: (event) => applyUserRegistered(opts.pool, event, log, opts.onCreated),
        });
        if (stopped) await consumer.stop();
        return;
      } catch (err) {
        log.warn({ err: (err as Error).message }, "starting the profile consumer failed; retrying");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
  ready.catch((err) => log.error({ err }, "profile consumer failed to start"));
  return {
    ready,
    async stop() {
      stopped = true;
      await consumer?.stop();
      await nats?.close();
    },
  };
}
