// The service runtime: one gRPC server with health, reflection, metrics, tracing and the
// middleware chain; an HTTP admin port; graceful shutdown (NOT_SERVING, drain, timeout, force).
import { readFileSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { untangleHttp2Sessions } from "./grpc/http2-sessions.js";
import type { Middleware } from "./grpc/middleware.js";
import { type AddServiceOptions, addService, type Costs, type Handlers } from "./grpc/service.js";
import { addHealth, type Health } from "./health.js";
import type { Logger } from "./logger.js";
import { observeMiddleware, type Registry, startAdminServer } from "./metrics.js";
import { addReflection } from "./reflection.js";
import { type Tracing, tracingMiddleware } from "./tracing.js";

export interface RuntimeOptions {
  name: string;
  host: string;
  port: number;
  adminPort: number;
  log: Logger;
  registry: Registry;
  tracing: Tracing;
  shutdownTimeoutMs: number;
  drainDelayMs: number;
  tls?: { certFile?: string | undefined; keyFile?: string | undefined; clientCaFile?: string | undefined };
  /** Extra middlewares after tracing/metrics/logging (authentication, rate limits). */
  middlewares?: readonly Middleware[];
  /** Max message size in bytes (both directions). */
  maxMessageBytes?: number;
  /**
   * Runs each call in the database admission's call scope, so its checkouts wait within its
   * deadline (db/admission.ts; default true). Off for a service whose calls do not check out
   * connections on a caller's behalf: the scope is an AsyncLocalStorage, and on Node 20 one
   * in use hooks every promise and async resource of the process (≈ 5 % of a Check's CPU).
   */
  callScope?: boolean;
}

export interface Runtime {
  readonly server: Server;
  readonly health: Health;
  /** Bound gRPC port (useful with port 0). */
  port: number;
  adminPort: number;
  readonly shutdownTimeoutMs: number;
  /** Appends middlewares (authentication, rate limits) to the chain; call before start(). */
  use(...middlewares: Middleware[]): void;
  /**
   * Registers a service with a handler for every method (its name comes from the definition);
   * `costs` gives methods whose calls take more than one rate-limit token.
   */
  add<S extends Record<string, unknown>>(definition: S, handlers: Handlers<S>, costs?: Costs<S>): void;
  /** As `add`, for a service that implements some methods (tests); the rest answer UNIMPLEMENTED. */
  addPartial<S extends Record<string, unknown>>(
    definition: S,
    handlers: Partial<Handlers<S>>,
    costs?: Costs<S>,
  ): void;
  /**
   * Runs when shutdown begins, before NOT_SERVING and the drain (in order of registration):
   * stop what would keep streams open or flip readiness back (index sync, long polls).
   */
  beforeStop(fn: () => void): void;
  /** Runs at shutdown after the server stopped, in reverse order of registration. */
  onShutdown(fn: () => Promise<void> | void): void;
  start(): Promise<void>;
  shutdown(reason?: string): Promise<void>;
}

export function credentialsFrom(tls: RuntimeOptions["tls"]): ServerCredentials {
  if (!tls?.certFile || !tls.keyFile) return ServerCredentials.createInsecure();
  const ca = tls.clientCaFile ? readFileSync(tls.clientCaFile) : null;
  return ServerCredentials.createSsl(
    ca,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    ca !== null,
  );
}

export function createRuntime(opts: RuntimeOptions): Runtime {
  const max = opts.maxMessageBytes ?? 8 * 1024 * 1024;
  // Finished calls must not outlive a scavenge through node:http2's stream Map (grpc/http2-sessions.ts).
  untangleHttp2Sessions();
  const server = new Server({
    "grpc.max_receive_message_length": max,
    "grpc.max_send_message_length": max,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_permit_without_calls": 1,
    // Never share a port with a stale process (grpc-js enables SO_REUSEPORT by default).
    "grpc.so_reuseport": 0,
  });
  const services: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopping: (() => void)[] = [];
  let health: Health | undefined;
  let admin: HttpServer | undefined;
  let shuttingDown: Promise<void> | undefined;
  const serviceOpts: AddServiceOptions = {
    log: opts.log,
    errorDomain: `${opts.name}.filemesh`,
    callScope: opts.callScope ?? true,
    // Without a tracer the call context makes its traceparent on first use (no middleware).
    middlewares: [
      ...(opts.tracing.tracer ? [tracingMiddleware(opts.tracing.tracer)] : []),
      observeMiddleware(opts.registry),
      ...(opts.middlewares ?? []),
    ],
  };

  const runtime: Runtime = {
    server,
    get health() {
      if (!health) throw new Error("runtime not started");
      return health;
    },
    port: opts.port,
    adminPort: opts.adminPort,
    shutdownTimeoutMs: opts.shutdownTimeoutMs + opts.drainDelayMs,
    use(...middlewares) {
      if (health) throw new Error("use() after start()");
      (serviceOpts.middlewares as Middleware[]).push(...middlewares);
    },
    add(definition, handlers, costs) {
      runtime.addPartial(definition, handlers, costs);
    },
    addPartial(definition, handlers, costs) {
      addService(server, definition as never, handlers as never, serviceOpts, costs as never);
      services.push(serviceNameOf(definition));
    },
    beforeStop(fn) {
      stopping.push(fn);
    },
    onShutdown(fn) {
      cleanups.push(fn);
    },
    async start() {
      health = addHealth(server, services);
      addReflection(server, services);
      runtime.port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${opts.host}:${opts.port}`, credentialsFrom(opts.tls), (err, port) =>
          err ? reject(err) : resolve(port),
        ),
      );
      admin = await startAdminServer(opts.registry, opts.host, opts.adminPort);
      const addr = admin.address();
      if (addr && typeof addr === "object") runtime.adminPort = addr.port;
      health.set("SERVING");
      opts.log.info({ port: runtime.port, admin_port: runtime.adminPort, services }, "serving");
    },
    shutdown(reason = "shutdown") {
      shuttingDown ??= (async () => {
        for (const fn of stopping) {
          try {
            fn();
          } catch (err) {
            opts.log.error({ err }, "before-stop hook failed");
          }
        }
        opts.log.info({ reason }, "shutting down: NOT_SERVING");
        health?.set("NOT_SERVING");
        if (opts.drainDelayMs > 0) await new Promise((r) => setTimeout(r, opts.drainDelayMs));
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            opts.log.warn("shutdown timeout: cancelling in-flight calls");
            server.forceShutdown();
            resolve();
          }, opts.shutdownTimeoutMs);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        for (const fn of cleanups.reverse()) {
          try {
            await fn();
          } catch (err) {
            opts.log.error({ err }, "cleanup failed");
          }
        }
        await new Promise<void>((resolve) => (admin ? admin.close(() => resolve()) : resolve()));
        await opts.tracing.shutdown();
        opts.log.info("stopped");
        opts.log.flush?.();
      })();
      return shuttingDown;
    },
  };
  return runtime;
}

/** "filemesh.auth.v1.AuthService" from a generated definition (its methods' paths). */
export function serviceNameOf(definition: Record<string, unknown>): string {
  const first = Object.values(definition)[0] as { path?: string } | undefined;
  const m = /^\/([^/]+)\//.exec(first?.path ?? "");
  if (!m) throw new Error("not a generated service definition (no method path)");
  return m[1]!;
}

/** SIGTERM/SIGINT → graceful shutdown; a second signal exits at once. */
export function exitOnSignals(runtime: Runtime, log: Logger): void {
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) process.exit(1);
    signalled = true;
    // Whatever happens (a dead stdout, a stuck cleanup), the process ends.
    setTimeout(() => process.exit(1), runtime.shutdownTimeoutMs + 5_000).unref();
    runtime.shutdown(sig).then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
