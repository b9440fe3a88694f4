import { createServer, type Server } from "node:http";
import type { MethodInfo } from "@filemesh/contracts";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { AppError, appErrorOf, Code } from "./errors.js";
import type { CallContext } from "./grpc/context.js";
import type { Middleware } from "./grpc/middleware.js";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

const CODE_NAMES = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k])) as Record<number, string>;
export const codeName = (code: number): string => CODE_NAMES[code] ?? "UNKNOWN";

/** The status the caller gets for `err` (as toServiceError answers it: store faults are retryable). */
export function codeOf(err: unknown): number {
  return appErrorOf(err)?.code ?? Code.INTERNAL;
}

interface MethodSeries {
  started: { inc(): void };
  seconds: { observe(v: number): void };
  handled: Map<number, { inc(): void }>;
  labels: Record<string, string>;
}

/**
 * The per-method series of the gRPC server metrics, bound once per method (prom-client's
 * `labels()` children): a call increments and observes without building label objects or
 * hashing label values.
 */
function grpcServerMetrics(registry: Registry) {
  const labelNames = ["grpc_service", "grpc_method", "grpc_type"] as const;
  const started = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames,
    registers: [registry],
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, regardless of success or failure.",
    labelNames: [...labelNames, "grpc_code"],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Response latency of RPCs handled by the server.",
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const byMethod = new Map<MethodInfo, MethodSeries>();
  const seriesOf = (m: MethodInfo): MethodSeries => {
    let s = byMethod.get(m);
    if (!s) {
      const type = m.clientStreaming ? "client_stream" : m.serverStreaming ? "server_stream" : "unary";
      const labels = { grpc_service: m.service, grpc_method: m.method, grpc_type: type };
      s = { started: started.labels(labels), seconds: seconds.labels(labels), handled: new Map(), labels };
      byMethod.set(m, s);
    }
    return s;
  };
  const finish = (s: MethodSeries, code: number, startedAt: number) => {
    s.seconds.observe((performance.now() - startedAt) / 1000);
    let h = s.handled.get(code);
    if (!h) {
      h = handled.labels({ ...s.labels, grpc_code: codeName(code) });
      s.handled.set(code, h);
    }
    h.inc();
  };
  return { seriesOf, finish };
}

/** grpc_server_handled_total / grpc_server_handling_seconds, labelled like go-grpc-prometheus. */
export function metricsMiddleware(registry: Registry): Middleware {
  const { seriesOf, finish } = grpcServerMetrics(registry);
  return async (ctx, next) => {
    const s = seriesOf(ctx.method);
    s.started.inc();
    const startedAt = performance.now();
    let code: number = Code.OK;
    try {
      await next();
    } catch (err) {
      code = codeOf(err);
      throw err;
    } finally {
      finish(s, code, startedAt);
    }
  };
}

/** Writes the line of a call that ended (see loggingMiddleware). */
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

/** Logs every call when it ends: OK at debug, client errors at info, server errors at error. */
export function loggingMiddleware(): Middleware {
  return async (ctx, next) => {
    const start = performance.now();
    try {
      await next();
    } catch (err) {
      logEnd(ctx, err, start);
      throw err;
    }
    // The OK line is at debug: below that level no child logger or line object is made.
    if (debugEnabled(ctx)) {
      ctx.log.debug({ code: "OK", duration_ms: +(performance.now() - start).toFixed(3) }, "rpc");
    }
  };
}

/**
 * Metrics and logging in one middleware (one async frame per call instead of two): what
 * metricsMiddleware and loggingMiddleware do, in that order.
 */
export function observeMiddleware(registry: Registry): Middleware {
  const { seriesOf, finish } = grpcServerMetrics(registry);
  return async (ctx, next) => {
    const s = seriesOf(ctx.method);
    s.started.inc();
    const start = performance.now();
    try {
      await next();
    } catch (err) {
      finish(s, codeOf(err), start);
      logEnd(ctx, err, start);
      throw err;
    }
    finish(s, Code.OK, start);
    if (debugEnabled(ctx)) {
      ctx.log.debug({ code: "OK", duration_ms: +(performance.now() - start).toFixed(3) }, "rpc");
    }
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
