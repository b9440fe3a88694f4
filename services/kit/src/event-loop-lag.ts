// Event-loop lag for Prometheus, under prom-client's metric names (nodejs_eventloop_lag_*,
// read by the chart's dashboard and its FilemeshEventLoopLag alert), sampled every
// EVENT_LOOP_SAMPLE_MS instead of prom-client's 10 ms.
//
// prom-client's monitorEventLoopDelay timer fires every 10 ms: 100 wake-ups a second in every
// idle process, ≈ 3–4 ms of CPU a second each on the bench machine (a VM, where waking costs),
// about half of what an idle service spent (bench/README.md, stop 42). A block of the loop
// delays whichever sample comes next, so a coarser period still sees every block as long as the
// period; the figures are what the samples came late by (interval − period), not the interval
// itself, so an idle loop reads ≈ 0 whatever the period.
import perfHooks, { type IntervalHistogram } from "node:perf_hooks";
import { Gauge, type Registry } from "prom-client";

/** How often the loop's delay is sampled (ms). */
export const EVENT_LOOP_SAMPLE_MS = 50;

/**
 * What prom-client's collectDefaultMetrics is given so that its own histogram never samples:
 * one period of 2^31 − 1 ms (≈ 24.8 days). Its series are then replaced by eventLoopLagMetrics.
 */
export const PROM_CLIENT_LOOP_PRECISION_MS = 2 ** 31 - 1;

const NAMES = {
  lag: "nodejs_eventloop_lag_seconds",
  min: "nodejs_eventloop_lag_min_seconds",
  max: "nodejs_eventloop_lag_max_seconds",
  mean: "nodejs_eventloop_lag_mean_seconds",
  stddev: "nodejs_eventloop_lag_stddev_seconds",
  p50: "nodejs_eventloop_lag_p50_seconds",
  p90: "nodejs_eventloop_lag_p90_seconds",
  p99: "nodejs_eventloop_lag_p99_seconds",
} as const;

// One histogram per process, shared by its registries (one in a service; several in tests).
let delays: IntervalHistogram | undefined;

function histogram(): IntervalHistogram {
  if (!delays) {
    delays = perfHooks.monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
    delays.enable();
  }
  return delays;
}

const PERIOD_NS = EVENT_LOOP_SAMPLE_MS * 1e6;
/** A recorded interval (ns) as the seconds its sample came late by. */
const late = (ns: number) => Math.max(0, ns - PERIOD_NS) / 1e9;

/**
 * Replaces the registry's nodejs_eventloop_lag_* series (collectDefaultMetrics' own) with ones
 * from the shared histogram. nodejs_eventloop_lag_seconds is measured at the scrape, as
 * prom-client does (how long a setImmediate waits), but awaited, so it is this scrape's figure.
 */
export function eventLoopLagMetrics(registry: Registry): void {
  for (const name of Object.values(NAMES)) registry.removeSingleMetric(name);
  const h = histogram();
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  // Registered first: a scrape calls every metric's get() in registration order, and only this
  // one's collect() sets the figures; it sets them before its first await, so the gauges below
  // read this scrape's figures (prom-client's own layout).
  new Gauge({
    name: NAMES.lag,
    help: "How long a callback queued at the scrape waited for the event loop (seconds).",
    registers: [registry],
    async collect() {
      if (h.count > 0) {
        min.set(late(h.min));
        max.set(late(h.max));
        mean.set(late(h.mean));
        stddev.set(h.stddev / 1e9);
        p50.set(late(h.percentile(50)));
        p90.set(late(h.percentile(90)));
        p99.set(late(h.percentile(99)));
        h.reset();
      }
      const start = performance.now();
      await new Promise((resolve) => setImmediate(resolve));
      this.set((performance.now() - start) / 1000);
    },
  });
  const min = gauge(NAMES.min, "The smallest delay of an event-loop sample since the last scrape (seconds).");
  const max = gauge(NAMES.max, "The largest delay of an event-loop sample since the last scrape (seconds).");
  const mean = gauge(NAMES.mean, "The mean delay of the event-loop samples since the last scrape (seconds).");
  const stddev = gauge(NAMES.stddev, "The standard deviation of those delays (seconds).");
  const p50 = gauge(NAMES.p50, "The 50th percentile of those delays (seconds).");
  const p90 = gauge(NAMES.p90, "The 90th percentile of those delays (seconds).");
  const p99 = gauge(NAMES.p99, "The 99th percentile of those delays (seconds).");
}
