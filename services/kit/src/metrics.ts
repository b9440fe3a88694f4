import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { AppError, Code } from "./errors.js";
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

export function codeOf(err: unknown): number {
  return err instanceof AppError ? err.code : Code.INTERNAL;
}

/** grpc_server_handled_total / grpc_server_handling_seconds, labelled like go-grpc-prometheus. */
export function metricsMiddleware(registry: Registry): Middleware {
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
  return async (ctx, next) => {
    const m = ctx.method;
    const type = m.clientStreaming ? "client_stream" : m.serverStreaming ? "server_stream" : "unary";
    const labels = { grpc_service: m.service, grpc_method: m.method, grpc_type: type };
    started.inc(labels);
    const end = seconds.startTimer(labels);
    let code: number = Code.OK;
    try {
      await next();
    } catch (err) {
      code = codeOf(err);
      throw err;
    } finally {
      end();
      handled.inc({ ...labels, grpc_code: codeName(code) });
    }
  };
}

/** Logs every call when it ends: OK at debug, client errors at info, server errors at error. */
export function loggingMiddleware(): Middleware {
  return async (ctx, next) => {
    const start = performance.now();
    try {
      await next();
      ctx.log.debug({ code: "OK", duration_ms: +(performance.now() - start).toFixed(3) }, "rpc");
    } catch (err) {
      const code = codeOf(err);
      const duration_ms = +(performance.now() - start).toFixed(3);
      if (err instanceof AppError && code !== Code.INTERNAL) {
        ctx.log.info({ code: codeName(code), reason: err.reason, duration_ms }, "rpc");
      } else {
        ctx.log.error({ code: codeName(code), duration_ms, err }, "rpc failed");
      }
      throw err;
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
