// Starts the workers without holding up start-up: NATS is connected in the background (retrying
// forever), the streams are created or converged, then every worker's consumers run until
// shutdown. Events published meanwhile wait in their streams, so nothing is lost while NATS is away.
import {
  connectNats,
  ensureStreams,
  type Logger,
  type NatsHandle,
  type RunningConsumer,
  type StreamDef,
} from "@filemesh/kit";
import type { ProcessorMetrics } from "../metrics.js";
import { createDeadLetters, type DeadLetters } from "./dead-letters.js";
import { runWorker, type Worker, type WorkerSettings } from "./workers.js";

export interface BackgroundWorkers {
  /** Resolves once every consumer runs (tests wait on it). */
  readonly ready: Promise<void>;
  /** The dead-letter stream, once NATS is connected. */
  deadLetters(): DeadLetters | undefined;
  stop(): Promise<void>;
}

export function startBackgroundWorkers(opts: {
  natsUrl: string;
  /** RUN_PREFIX (kit run-prefix.ts). */
  runPrefix?: string;
  name: string;
  streams: readonly StreamDef[];
  workers: readonly Worker[];
  settings: WorkerSettings;
  metrics: ProcessorMetrics;
  log: Logger;
}): BackgroundWorkers {
  const log = opts.log.child({ component: "workers" });
  let nats: NatsHandle | undefined;
  let dead: DeadLetters | undefined;
  const running: RunningConsumer[] = [];
  let stopped = false;
  const pause = () => new Promise((r) => setTimeout(r, 1000));

  const ready = (async () => {
    nats = await connectNats({ url: opts.natsUrl, name: opts.name, log, waitOnFirstConnect: true });
    const { js, jsm } = nats;
    const runPrefix = opts.runPrefix ?? "";
    dead = createDeadLetters(js, jsm, runPrefix);
    const deps = {
      js,
      jsm,
      runPrefix,
      deadLetters: dead,
      metrics: opts.metrics,
      settings: opts.settings,
      log,
    };
    const pending = [...opts.workers];
    while (!stopped) {
      try {
        if (running.length === 0) {
          const results = await ensureStreams(jsm, opts.streams, runPrefix);
          const changed = results.filter((r) => r.action !== "unchanged");
          if (changed.length) log.info({ streams: changed }, "streams created or updated");
        }
        while (pending.length > 0 && !stopped) {
          running.push(...(await runWorker(pending[0]!, deps)));
          pending.shift();
        }
        if (!stopped) log.info({ workers: opts.workers.map((w) => w.name) }, "workers running");
        return;
      } catch (err) {
        log.warn({ err: (err as Error).message }, "starting the workers failed; retrying");
        await pause();
      }
    }
  })();
  ready.catch((err) => log.error({ err }, "workers failed to start"));

  return {
    ready,
    deadLetters: () => dead,
    async stop() {
      stopped = true;
      await Promise.all(running.map((c) => c.stop()));
      await nats?.close();
    },
  };
}
