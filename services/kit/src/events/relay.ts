import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Pool } from "pg";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createPool } from "../db/database.js";
import { runSubject } from "../run-prefix.js";
import { listenForNotify } from "./listen.js";
import { connectNats, type NatsHandle } from "./nats.js";
import { checkSchema, outboxChannel } from "./outbox.js";
import { relayMetrics } from "./relay-metrics.js";
import {
  type BatchOutcome,
  type ClaimedRow,
  countBacklog,
  prunePublished,
  withClaimedBatch,
} from "./relay-store.js";
import { ensureStreams, relayStreams } from "./streams.js";

export interface RelayOptions {
  /** Pool of the owning service; one connection stays checked out for LISTEN. */
  pool: Pool;
  /** Pool for the LISTEN connection (a session-mode URL behind PgBouncer); `pool` when absent. */
  listenPool?: Pool;
  schema: string;
  js: JetStreamClient;
  /** RUN_PREFIX: events go to `<prefix>.<subject>` (the run's own streams). */
  runPrefix?: string;
  log: Logger;
  registry?: Registry;
  /** Rows per claim transaction (default 100). */
  batchSize?: number;
  /** Polling fallback when no NOTIFY arrives (default 1000); the backlog gauge's refresh period. */
  pollIntervalMs?: number;
  /**
   * After a NOTIFY wakes the idle relay, how long it lets more commits arrive before it claims
   * (default 20 ms): under load one round then carries several rows instead of one each.
   */
  coalesceMs?: number;
  /** PubAck wait per message (default 5000). */
  publishTimeoutMs?: number;
  /** Backoff after a failed round, doubling from min to max (defaults 200 and 10000). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Published rows older than this are deleted (default 24 h), checked every pruneIntervalMs (default 60 s). */
  retentionMs?: number;
  pruneIntervalMs?: number;
  /** When it returns false (NATS disconnected) the relay waits instead of queueing publishes. */
  isConnected?: () => boolean;
}

export interface Relay {
  /** Claims and publishes one batch; returns how many rows were marked published. */
  drainOnce(): Promise<number>;
  /** Deletes published rows past retention; returns how many. */
  pruneOnce(): Promise<number>;
  /** Stops the loop (waiting for the batch in flight) and releases the LISTEN connection. */
  stop(): Promise<void>;
}

function errorText(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  const text = e?.cause?.message ? `${e.message}: ${e.cause.message}` : (e?.message ?? String(err));
  return text.slice(0, 500);
}

/**
 * Publishes outbox rows to JetStream with `Nats-Msg-Id` = event id, marking each published only
 * after its PubAck. At-least-once: a row may be published again after a crash or a lost ack,
 * and JetStream drops the copy within the stream's duplicate window. No global order is
 * promised (concurrent relays, retries); consumers key on the event id.
 */
export function startRelay(opts: RelayOptions): Relay {
  const schema = checkSchema(opts.schema);
  const batchSize = opts.batchSize ?? 100;
  const pollMs = opts.pollIntervalMs ?? 1000;
  const coalesceMs = opts.coalesceMs ?? 20;
  const timeout = opts.publishTimeoutMs ?? 5000;
  const backoffMin = opts.backoffMinMs ?? 200;
  const backoffMax = opts.backoffMaxMs ?? 10_000;
  const retentionMs = opts.retentionMs ?? 24 * 60 * 60 * 1000;
  const pruneEvery = opts.pruneIntervalMs ?? 60_000;
  const log = opts.log.child({ component: "outbox-relay", schema });
  const metrics = relayMetrics(opts.registry);

  const publish = async (rows: ClaimedRow[]): Promise<BatchOutcome> => {
    const results = await Promise.allSettled(
      rows.map((row) => {
        const h = natsHeaders();
        for (const [k, v] of Object.entries(row.headers ?? {})) h.set(k, String(v));
        return opts.js.publish(runSubject(opts.runPrefix ?? "", row.subject), row.payload, {
          msgID: row.id,
          headers: h,
          timeout,
        });
      }),
    );
    const out: BatchOutcome = { published: [], failed: [] };
    results.forEach((r, i) => {
      const id = rows[i]!.id;
      if (r.status === "fulfilled") out.published.push(id);
      else out.failed.push({ id, error: errorText(r.reason) });
    });
    return out;
  };

  let failures = 0;
  const backoffMs = () => Math.min(backoffMax, backoffMin * 2 ** failures);

  const round = async () => {
    // If nothing goes through, the rows sit out the next round (which comes after backoffMs()).
    const r = await withClaimedBatch(opts.pool, schema, batchSize, publish, 2 * backoffMs());
    if (r.claimed > 0) metrics.batches.inc({ schema });
    if (r.published.length > 0) metrics.published.inc({ schema }, r.published.length);
    if (r.failed.length > 0) metrics.errors.inc({ schema }, r.failed.length);
    return r;
  };

  let lastBacklog = 0;
  const refreshBacklog = async () => {
    metrics.backlog.set({ schema }, await countBacklog(opts.pool, schema));
    lastBacklog = Date.now();
  };

  let stopped = false;
  let pending = false;
  let interrupt: (() => void) | undefined;
  let interruptible = false;
  /** Resolves true when cut short (a NOTIFY, or stop), false when `ms` passed. */
  const sleep = (ms: number, wakeable: boolean) =>
    new Promise<boolean>((resolve) => {
      const done = (early: boolean) => {
        clearTimeout(t);
        interrupt = undefined;
        resolve(early);
      };
      const t = setTimeout(() => done(false), ms);
      interrupt = () => done(true);
      interruptible = wakeable;
    });
  const wake = () => {
    pending = true;
    if (interruptible) interrupt?.();
  };

  const listener = listenForNotify({
    pool: opts.listenPool ?? opts.pool,
    channel: outboxChannel(schema),
    log,
    onNotify: wake,
  });

  const loop = async () => {
    let lastPrune = 0;
    while (!stopped) {
      pending = false;
      let claimed = 0;
      let ok = true;
      if (opts.isConnected && !opts.isConnected()) {
        // Nothing would get through: keep the backlog gauge honest and look again soon.
        await refreshBacklog().catch(() => undefined);
        await sleep(Math.min(pollMs, backoffMax), false);
        continue;
      }
      try {
        const r = await round();
        claimed = r.claimed;
        ok = r.failed.length === 0 || r.published.length > 0;
        if (!ok && failures === 0)
          log.warn({ err: r.failed[0]?.error }, "outbox publish failing; backing off");
        // The gauge is read at most once per poll interval (a count per round cost as much as
        // the round's claim under load), and after a failed round.
        if (!ok || Date.now() - lastBacklog >= pollMs) await refreshBacklog();
        if (ok && claimed < batchSize && Date.now() - lastPrune >= pruneEvery) {
          lastPrune = Date.now();
          const n = await prunePublished(opts.pool, schema, retentionMs);
          if (n > 0) log.debug({ pruned: n }, "outbox pruned");
        }
      } catch (err) {
        if (failures === 0) log.warn({ err: errorText(err) }, "outbox relay round failed; backing off");
        ok = false;
      }
      if (stopped) break;
      if (!ok) {
        await sleep(backoffMs(), false);
        failures++;
        continue;
      }
      if (failures > 0) log.info("outbox relay recovered");
      failures = 0;
      // Woken from idle by a NOTIFY: let the commits arriving with it join the next round.
      if (claimed < batchSize && !pending && (await sleep(pollMs, true)) && !stopped && coalesceMs > 0)
        await sleep(coalesceMs, false);
    }
  };
  const running = loop();

  return {
    async drainOnce() {
      return (await round()).published.length;
    },
    pruneOnce: () => prunePublished(opts.pool, schema, retentionMs),
    async stop() {
      stopped = true;
      interrupt?.();
      await running;
      await listener.close();
    },
  };
}

// startBackgroundRelay: starts a service's relay without holding up start-up: NATS is connected
// in the background (retrying forever), streams are ensured, then the relay runs until
// shutdown. Events committed meanwhile wait in the outbox, so nothing is lost while NATS is away.
export interface BackgroundRelay {
  /** Resolves once NATS is connected and the relay runs (tests wait on it). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export function startBackgroundRelay(opts: {
  natsUrl: string;
  name: string;
  pool: Pool;
  /** Session-mode Postgres URL for LISTEN/NOTIFY (behind PgBouncer's transaction pooling). */
  listenUrl?: string | undefined;
  schema: string;
  /** RUN_PREFIX (kit run-prefix.ts). */
  runPrefix?: string;
  log: Logger;
  registry: Registry;
}): BackgroundRelay {
  let nats: NatsHandle | undefined;
  let relay: Relay | undefined;
  let listenPool: Pool | undefined;
  let stopped = false;
  const ready = (async () => {
    nats = await connectNats({ url: opts.natsUrl, name: opts.name, log: opts.log, waitOnFirstConnect: true });
    if (stopped) return;
    for (;;) {
      try {
        await ensureStreams(nats.jsm, relayStreams(opts.name), opts.runPrefix);
        break;
      } catch (err) {
        opts.log.warn({ err: (err as Error).message }, "ensuring streams failed; retrying");
        await new Promise((r) => setTimeout(r, 1000));
        if (stopped) return;
      }
    }
    const handle = nats;
    if (opts.listenUrl) listenPool = createPool(opts.listenUrl, 1, opts.log, "listen");
    relay = startRelay({
      pool: opts.pool,
      ...(listenPool ? { listenPool } : {}),
      schema: opts.schema,
      js: handle.js,
      runPrefix: opts.runPrefix ?? "",
      log: opts.log,
      registry: opts.registry,
      isConnected: () => handle.isConnected(),
    });
  })();
  ready.catch((err) => opts.log.error({ err }, "event relay failed to start"));
  return {
    ready,
    async stop() {
      stopped = true;
      await relay?.stop();
      await listenPool?.end();
      await nats?.close();
    },
  };
}
