// Wiring of the auth service, in the order STYLE.md gives. main.ts and the tests call it.
import { authv1, eventsv1 } from "@filemesh/contracts";
import {
  appendEvents,
  callerChecks,
  createRedis,
  createServiceRuntime,
  type Logger,
  makeEvent,
  newEventMeta,
  openDatabase,
  outboxTableSql,
  type Runtime,
  startBackgroundRelay,
} from "@filemesh/kit";
import type { AuthConfig } from "./config.js";
import { commonPasswordChecker } from "./domain/common-passwords.js";
import { createHasher } from "./domain/hasher.js";
import { loadKeyRing } from "./domain/tokens.js";
import { createAuthHandlers } from "./handlers/auth-handlers.js";
import { AccountEntity } from "./store/accounts.js";
import { authMigrations } from "./store/migrations.js";

export async function startAuthService(config: AuthConfig, log: Logger): Promise<Runtime> {
  const { runtime, registry } = createServiceRuntime("auth", config, log);
  const keys = loadKeyRing(config.jwtKeysDir);
  const db = await openDatabase({
    url: config.databaseUrl,
    readUrl: config.databaseReadUrl,
    schema: "auth",
    poolSize: config.databasePoolSize,
    entities: [AccountEntity],
    migrations: authMigrations(outboxTableSql("auth")),
    log,
  });
  await db.migrate();
  const redis = createRedis(config.redisUrl, log, "sessions");
  // The auth service verifies tokens with its own key ring (no call to itself).
  runtime.use(
    ...callerChecks({ config, redis, registry, fetchJwks: async () => keys.all.map((k) => k.jwk) }),
  );
  const hasher = createHasher({
    pepper: config.passwordPepper,
    cost: config.bcryptCost,
    concurrency: config.hashConcurrency,
    queue: config.hashQueue,
  });
  const handlers = createAuthHandlers({
    pool: db.pool,
    redis,
    hasher,
    isCommonPassword: commonPasswordChecker(),
    keys: () => keys,
    tokens: { issuer: config.jwtIssuer, audience: config.jwtAudience, ttlMs: config.accessTokenTtlMs },
    sessions: { idleMs: config.sessionIdleMs, absoluteMs: config.sessionAbsoluteMs },
    adminEmails: config.adminEmails.map((e) => e.toLowerCase()),
    onRegistered: (client, account, ctx) =>
      appendEvents(client, "auth", [
        makeEvent(
          "filemesh.auth.user_registered",
          "filemesh.events.v1.UserRegistered",
          eventsv1.UserRegistered,
          {
            meta: newEventMeta({
              actor: `user:${account.id}`,
              resource: `user:${account.id}`,
              requestId: ctx.requestId,
              ...(ctx.traceparent ? { traceparent: ctx.traceparent } : {}),
            }),
            userId: account.id,
            email: account.email,
            displayName: account.displayName,
          },
        ),
      ]),
  });
  runtime.add(authv1.AuthServiceService, handlers, "filemesh.auth.v1.AuthService");
  const relay = startBackgroundRelay({
    natsUrl: config.natsUrl,
    name: "auth",
    pool: db.pool,
    schema: "auth",
    log,
    registry,
  });
  runtime.onShutdown(() => db.close());
  runtime.onShutdown(() => relay.stop());
  runtime.onShutdown(async () => {
    redis.disconnect();
  });
  await runtime.start();
  return runtime;
}
