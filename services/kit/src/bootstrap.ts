// The few lines every main.ts shares: config or exit, a runtime from the common settings,
// and "start, then shut down gracefully on SIGTERM/SIGINT".
import type { commonSpec } from "./common-config.js";
import type { ConfigOf } from "./config.js";
import type { Middleware } from "./grpc/middleware.js";
import type { Logger } from "./logger.js";
import { createRegistry, type Registry } from "./metrics.js";
import { createRuntime, exitOnSignals, type Runtime, type RuntimeOptions } from "./server.js";
import { initTracing } from "./tracing.js";

export type CommonConfig = ConfigOf<ReturnType<typeof commonSpec>>;

/** Parses the configuration or prints every problem and exits with EX_CONFIG (78). */
export function loadConfigOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    console.error(`${service}: ${(err as Error).message}`);
    process.exit(78);
  }
}

export function createServiceRuntime(
  name: string,
  config: CommonConfig,
  log: Logger,
  middlewares: readonly Middleware[] = [],
  options: Pick<RuntimeOptions, "callScope"> = {},
): { runtime: Runtime; registry: Registry } {
  const registry = createRegistry(name);
  const tracing = initTracing(name, config.otlpEndpoint);
  const runtime = createRuntime({
    name,
    host: config.host,
    port: config.port,
    adminPort: config.adminPort,
    log,
    registry,
    tracing,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    drainDelayMs: config.drainDelayMs,
    tls: { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, clientCaFile: config.tlsClientCaFile },
    middlewares,
    ...options,
  });
  return { runtime, registry };
}

/** Runs `start`; on success installs the signal handlers, on failure logs and exits 1. */
export function runMain(log: Logger, start: () => Promise<Runtime>): void {
  start().then(
    (runtime) => exitOnSignals(runtime, log),
    (err) => {
      log.fatal({ err }, "failed to start");
      log.flush();
      setTimeout(() => process.exit(1), 100);
    },
  );
}
