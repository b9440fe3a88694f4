// Builds the authentication and rate-limit middlewares of a service from its config.
import type { Redis } from "ioredis";
import { createKeySource, type JwkLike } from "./auth/jwks.js";
import { authMiddleware, type InternalAuth } from "./auth/middleware.js";
import { createSessionChecker } from "./auth/session-keys.js";
import type { CommonConfig } from "./bootstrap.js";
import type { Middleware } from "./grpc/middleware.js";
import type { Logger } from "./logger.js";
import { Counter, type Registry } from "./metrics.js";
import { jwksFromAuthService } from "./peers.js";
import { parseLimits } from "./ratelimit/gcra.js";
import { rateLimitMiddleware } from "./ratelimit/middleware.js";
import { createRedis } from "./redis.js";
import { redisPrefixOf } from "./run-prefix.js";
import type { Runtime } from "./server.js";

export function internalAuthOf(
  config: Pick<CommonConfig, "internalAuth" | "internalToken" | "meshTrustDomain" | "meshNamespace">,
): InternalAuth {
  if (config.internalAuth === "xfcc") {
    return { mode: "xfcc", trustDomain: config.meshTrustDomain, namespace: config.meshNamespace };
  }
  if (config.internalToken.length < 16) {
    throw new Error(
      "invalid configuration:\n  - INTERNAL_TOKEN must be at least 16 characters with INTERNAL_AUTH=token",
    );
  }
  return { mode: "token", token: config.internalToken };
}

export function callerChecks(opts: {
  config: CommonConfig;
  redis: Redis;
  registry: Registry;
  fetchJwks: () => Promise<JwkLike[]>;
}): Middleware[] {
  const { config, redis } = opts;
  const failOpen = new Counter({
    name: "filemesh_rate_limit_fail_open_total",
    help: "Calls let through because the rate limiter's Redis was unreachable.",
    labelNames: ["rate_class"],
    registers: [opts.registry],
  });
  return [
    authMiddleware({
      keys: createKeySource(opts.fetchJwks),
      verify: { issuer: config.jwtIssuer, audience: config.jwtAudience },
      sessions: createSessionChecker(redis, config.sessionIdleMs),
      internal: internalAuthOf(config),
    }),
    rateLimitMiddleware({
      redis,
      limits: parseLimits(config.rateLimits),
      trustForwardedFor: config.trustForwardedFor,
      trustedProxyHops: config.trustedProxyHops,
      failOpen,
    }),
  ];
}

const registered = new WeakMap<Runtime, Middleware[]>();

/**
 * The caller checks useCallerChecks registered on `runtime` (token, live session, rate limit),
 * for a listener of the same service that is not gRPC (the file service's HTTP data plane):
 * the same checks run on the same Redis and JWKS, not a second copy of them.
 */
export function callerChecksOf(runtime: Runtime): Middleware[] {
  const checks = registered.get(runtime);
  if (!checks) throw new Error("useCallerChecks was not called on this runtime");
  return checks;
}

/**
 * Caller checks for a service that is not the auth service: keys from the auth service's
 * JWKS, sessions and rate limits in Redis. Registers the middlewares on the runtime and
 * closes what it opened at shutdown.
 */
export function useCallerChecks(
  runtime: Runtime,
  opts: { config: CommonConfig & { redisUrl: string }; registry: Registry; log: Logger; redis?: Redis },
): Redis {
  const redis =
    opts.redis ?? createRedis(opts.config.redisUrl, opts.log, "authn", redisPrefixOf(opts.config));
  const jwks = jwksFromAuthService(opts.config);
  const checks = callerChecks({ config: opts.config, redis, registry: opts.registry, fetchJwks: jwks.fetch });
  runtime.use(...checks);
  registered.set(runtime, checks);
  runtime.onShutdown(() => {
    jwks.close();
    if (!opts.redis) redis.disconnect();
  });
  return redis;
}
