// Starts a service's outbox relay without holding up start-up: NATS is connected in the
// background (retrying forever), streams are ensured, then the relay runs until shutdown.
// Events committed meanwhile wait in the outbox, so nothing is lost while NATS is away.
import type pg from "pg";
import { createPool } from "./db/database.js";
import {
  connectNats,
  ensureStreams,
  type NatsHandle,
  type Relay,
  relayStreams,
  startRelay,
} from "./events/index.js";
import type { Logger } from "./logger.js";
import type { Registry } from "./metrics.js";

export interface BackgroundRelay {
  /** Resolves once NATS is connected and the relay runs (tests wait on it). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export function startBackgroundRelay(opts: {
  natsUrl: string;
  name: string;
  pool: pg.Pool;
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
  let listenPool: pg.Pool | undefined;
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
