// Wiring of the auth service, in the order docs/conventions.md gives. main.ts and the tests call it.
import { authv1 } from "@filemesh/contracts";
import {
  appendEvents,
  callerChecks,
  clientAddress,
  createPageTokens,
  createRedis,
  createServiceRuntime,
  inTransaction,
  type Logger,
  loadPageTokenKey,
  openServiceDatabase,
  type Runtime,
  redisPrefixOf,
  startBackgroundRelay,
} from "@filemesh/kit";
import type { AuthConfig } from "./config.js";
import { commonPasswordChecker } from "./domain/common-passwords.js";
import { createHasher } from "./domain/hasher.js";
import { createThrottle } from "./domain/throttle.js";
import { loadKeyRing } from "./domain/tokens.js";
import { createAdminHandlers } from "./handlers/admin-handlers.js";
import { createAuthHandlers } from "./handlers/auth-handlers.js";
import type { AuthDeps } from "./handlers/deps.js";
import { createSessionHandlers } from "./handlers/session-handlers.js";
import { authSchema } from "./store/migrations.js";

export async function startAuthService(config: AuthConfig, log: Logger): Promise<Runtime> {
  const { runtime, registry } = createServiceRuntime("auth", config, log);
  const keys = loadKeyRing(config.jwtKeysDir);
  const db = await openServiceDatabase(runtime, config, authSchema, log);
  const redis = createRedis(config.redisUrl, log, "sessions", redisPrefixOf(config));
  // The auth service verifies tokens with its own key ring (no call to itself).
  runtime.use(
    ...callerChecks({ config, redis, registry, fetchJwks: async () => keys.all.map((k) => k.jwk) }),
  );
  const deps: AuthDeps = {
    pool: db.pool,
    readPool: db.readPool,
    redis,
    hasher: createHasher({
      pepper: config.passwordPepper,
      cost: config.bcryptCost,
      concurrency: config.hashConcurrency,
      queue: config.hashQueue,
    }),
    throttle: createThrottle(redis, {
      freeAttempts: config.loginFreeAttempts,
      baseDelayMs: config.loginBackoffBaseMs,
      maxDelayMs: config.loginBackoffMaxMs,
      windowMs: 60 * 60_000,
      knownClientMs: config.loginKnownClientMs,
    }),
    isCommonPassword: commonPasswordChecker(),
    keys: () => keys,
    tokens: { issuer: config.jwtIssuer, audience: config.jwtAudience, ttlMs: config.accessTokenTtlMs },
    sessions: { idleMs: config.sessionIdleMs, absoluteMs: config.sessionAbsoluteMs },
    clientOf: (ctx) => clientAddress(ctx, config.trustForwardedFor, config.trustedProxyHops),
    pageTokens: createPageTokens(await loadPageTokenKey(db.pool, "auth")),
    // Changes kept in Redis (sessions) get their events right after; a failure is logged.
    emit: async (events, ctx) => {
      if (events.length === 0) return;
      await inTransaction(db.pool, (c) => appendEvents(c, "auth", events)).catch((err) =>
        ctx.log.error({ err: (err as Error).message }, "could not record auth events"),
      );
    },
  };
  runtime.add(authv1.AuthServiceService, {
    ...createAuthHandlers(deps),
    ...createSessionHandlers(deps),
    ...createAdminHandlers(deps),
  });
  const relay = startBackgroundRelay({
    natsUrl: config.natsUrl,
    runPrefix: config.runPrefix,
    name: "auth",
    pool: db.pool,
    schema: "auth",
    log,
    registry,
  });
  runtime.onShutdown(() => relay.stop());
  runtime.onShutdown(() => redis.disconnect());
  runtime.onShutdown(() => deps.hasher.close());
  await runtime.start();
  return runtime;
}
