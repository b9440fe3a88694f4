import { createServer, type Server } from "node:http";
import type { MethodInfo } from "@filemesh/contracts";
import { type Counter, collectDefaultMetrics, Registry } from "prom-client";
import { AppError, appErrorOf, Code } from "./errors.js";
import { eventLoopLagMetrics, PROM_CLIENT_LOOP_PRECISION_MS } from "./event-loop-lag.js";
import type { CallContext } from "./grpc/context.js";
import { DONE, type Middleware } from "./grpc/middleware.js";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: PROM_CLIENT_LOOP_PRECISION_MS });
  eventLoopLagMetrics(registry);
  return registry;
}

const CODE_NAMES = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k])) as Record<number, string>;
export const codeName = (code: number): string => CODE_NAMES[code] ?? "UNKNOWN";

/** The status the caller gets for `err` (as toServiceError answers it: store faults are retryable). */
export function codeOf(err: unknown): number {
  return appErrorOf(err)?.code ?? Code.INTERNAL;
}

/** The upper bounds of grpc_server_handling_seconds (seconds). */
const HANDLING_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One method's counts, kept as plain numbers: a call adds to them, a scrape reads them. */
interface MethodSeries {
  readonly labels: Readonly<Record<string, string>>;
  started: number;
  /** Calls ended, by status code (0–16; anything else is counted as UNKNOWN's slot 2). */
  readonly handled: Float64Array;
  /** Handling times: calls per bucket (not cumulative), the last slot above every bound. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * A metric of the registry whose samples are read from `samples()` when scraped (prom-client's
 * Registry only calls get() and reset() of what it holds).
 */
function scrapedMetric(
  registry: Registry,
  name: string,
  help: string,
  type: "counter" | "histogram",
  samples: () => Sample[],
  reset: () => void,
): void {
  const metric = {
    name,
    help,
    type,
    aggregator: "sum" as const,
    get: async () => ({ name, help, type, aggregator: "sum" as const, values: samples() }),
    reset,
  };
  registry.registerMetric(metric as unknown as Counter);
}

/**
 * The gRPC server metrics, labelled like go-grpc-prometheus. A call adds to its method's plain
 * counts (no label objects, hashing or validation per call, as prom-client's children do);
 * the series are made from them when Prometheus scrapes.
 */
function grpcServerMetrics(registry: Registry) {
  const byMethod = new Map<MethodInfo, MethodSeries>();
  const all = () => [...byMethod.values()].filter((s) => s.started > 0);
  const resetAll = () => {
    for (const s of byMethod.values()) {
      s.started = 0;
      s.handled.fill(0);
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  };
  scrapedMetric(
    registry,
    "grpc_server_started_total",
    "RPCs started on the server.",
    "counter",
    () => all().map((s) => ({ labels: { ...s.labels }, value: s.started })),
    resetAll,
  );
  scrapedMetric(
    registry,
    "grpc_server_handled_total",
    "RPCs completed on the server, regardless of success or failure.",
    "counter",
    () =>
      all().flatMap((s) =>
        [...s.handled].flatMap((value, code) =>
          value > 0 ? [{ labels: { ...s.labels, grpc_code: codeName(code) }, value }] : [],
        ),
      ),
    resetAll,
  );
  const histogram = "grpc_server_handling_seconds";
  scrapedMetric(
    registry,
    histogram,
    "Response latency of RPCs handled by the server.",
    "histogram",
    () =>
      all()
        .filter((s) => s.count > 0)
        .flatMap((s) => {
          let acc = 0;
          const out: Sample[] = HANDLING_BUCKETS.map((le, i) => {
            acc += s.buckets[i]!;
            return { labels: { ...s.labels, le }, value: acc, metricName: `${histogram}_bucket` };
          });
          out.push({
            labels: { ...s.labels, le: "+Inf" },
            value: s.count,
            metricName: `${histogram}_bucket`,
          });
          out.push({ labels: { ...s.labels }, value: s.sum, metricName: `${histogram}_sum` });
          out.push({ labels: { ...s.labels }, value: s.count, metricName: `${histogram}_count` });
          return out;
        }),
    resetAll,
  );
  const seriesOf = (m: MethodInfo): MethodSeries => {
    let s = byMethod.get(m);
    if (!s) {
      const type = m.clientStreaming ? "client_stream" : m.serverStreaming ? "server_stream" : "unary";
      s = {
        labels: { grpc_service: m.service, grpc_method: m.method, grpc_type: type },
        started: 0,
        handled: new Float64Array(17),
        buckets: new Float64Array(HANDLING_BUCKETS.length + 1),
        sum: 0,
        count: 0,
      };
      byMethod.set(m, s);
    }
    return s;
  };
  const finish = (s: MethodSeries, code: number, startedAt: number) => {
    const seconds = (performance.now() - startedAt) / 1000;
    let i = 0;
    while (i < HANDLING_BUCKETS.length && seconds > HANDLING_BUCKETS[i]!) i++;
    s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
    s.handled[code >= 0 && code <= 16 ? code : Code.UNKNOWN]!++;
  };
  return { seriesOf, finish };
}

/** Writes the line of a call that ended: client errors at info, store faults at warn, the rest at error. */
function logEnd(ctx: CallContext, err: unknown, startedAt: number): void {
  const duration_ms = +(performance.now() - startedAt).toFixed(3);
  const app = appErrorOf(err);
  const code = app?.code ?? Code.INTERNAL;
  if (app && code !== Code.INTERNAL) {
    // A store fault is logged as what the caller got (UNAVAILABLE …), with its cause.
    // The caller leaving (cancelled, deadline passed) is its doing, not a fault: info.
    if (err instanceof AppError || code === Code.CANCELLED || code === Code.DEADLINE_EXCEEDED)
      ctx.log.info({ code: codeName(code), reason: app.reason, duration_ms }, "rpc");
    else ctx.log.warn({ code: codeName(code), reason: app.reason, duration_ms, err }, "rpc failed (store)");
  } else {
    ctx.log.error({ code: codeName(code), duration_ms, err }, "rpc failed");
  }
}

/** True when a debug line of this call would be written (without making its child logger). */
const debugEnabled = (ctx: CallContext): boolean =>
  typeof (ctx as { logs?: (l: string) => boolean }).logs === "function"
    ? (ctx as unknown as { logs: (l: string) => boolean }).logs("debug")
    : ctx.log.isLevelEnabled("debug");

/**
 * The gRPC server metrics (grpc_server_started/handled_total, grpc_server_handling_seconds,
 * labelled like go-grpc-prometheus) and the call's end logged (OK at debug, below which no child
 * logger or line is made; failures by logEnd), in one middleware.
 */
export function observeMiddleware(registry: Registry): Middleware {
  const { seriesOf, finish } = grpcServerMetrics(registry);
  const ok = (ctx: CallContext, s: MethodSeries, start: number) => {
    finish(s, Code.OK, start);
    if (debugEnabled(ctx)) {
      ctx.log.debug({ code: "OK", duration_ms: +(performance.now() - start).toFixed(3) }, "rpc");
    }
  };
  const failed = (ctx: CallContext, s: MethodSeries, start: number, err: unknown) => {
    finish(s, codeOf(err), start);
    logEnd(ctx, err, start);
  };
  // Not async: a chain that completed as dispatched (DONE) is counted at once and passed on
  // without a promise of its own (grpc/middleware.ts).
  return (ctx, next) => {
    const s = seriesOf(ctx.method);
    s.started++;
    const start = performance.now();
    let settled: Promise<void>;
    try {
      settled = next();
    } catch (err) {
      failed(ctx, s, start, err);
      return Promise.reject(err);
    }
    if (settled === DONE) {
      ok(ctx, s, start);
      return DONE;
    }
    return settled.then(
      () => ok(ctx, s, start),
      (err) => {
        failed(ctx, s, start, err);
        throw err;
      },
    );
  };
}

/** The HTTP admin port: GET /metrics (Prometheus text format) and GET /livez. */
export function startAdminServer(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (req.method === "GET" && req.url === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
