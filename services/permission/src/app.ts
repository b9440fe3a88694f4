// Wiring of the permission service, in the order docs/conventions.md gives. main.ts and the tests call it.
// The server binds first and reports NOT_SERVING until the index is loaded and caught up;
// the returned promise resolves once it is SERVING.
import {
  createPageTokens,
  createRedis,
  createServiceRuntime,
  type Logger,
  loadPageTokenKey,
  openServiceDatabase,
  type Runtime,
  redisPrefixOf,
  startBackgroundRelay,
  useCallerChecks,
} from "@filemesh/kit";
import type { PermissionConfig } from "./config.js";
import { permissionService } from "./handlers/check-batch-wire.js";
import { createCheckHandlers } from "./handlers/check-handlers.js";
import { createGrantHandlers } from "./handlers/grant-handlers.js";
import { createRelationHandlers } from "./handlers/relation-handlers.js";
import { permissionSchema } from "./store/migrations.js";
import { createIndexSync, type IndexSync } from "./sync/index-sync.js";
import { type SnapshotKeeper, startSnapshotKeeper } from "./sync/snapshot-keeper.js";
import { createWriter } from "./write/writer.js";

export interface PermissionService {
  runtime: Runtime;
  sync: IndexSync;
  snapshots: SnapshotKeeper;
}

export async function startPermissionService(config: PermissionConfig, log: Logger): Promise<Runtime> {
  return (await startPermission(config, log)).runtime;
}

/** Like startPermissionService, with the index and snapshot handles (tests, bench). */
export async function startPermission(config: PermissionConfig, log: Logger): Promise<PermissionService> {
  // No call scope: checks never touch Postgres on a caller's behalf (the index answers them, a
  // catch-up serves every waiting reader at once) and the group commit's transaction is no one
  // caller's; the scope's AsyncLocalStorage would hook every promise of this hot process.
  const { runtime, registry } = createServiceRuntime("permission", config, log, [], { callScope: false });
  const db = await openServiceDatabase(runtime, config, permissionSchema, log);
  const redis = createRedis(config.redisUrl, log, "acl", redisPrefixOf(config));
  useCallerChecks(runtime, { config, registry, log, redis });
  const sync = createIndexSync({
    pool: db.pool,
    redis,
    tailRedis: createRedis(config.redisUrl, log, "acl-tail", redisPrefixOf(config)),
    prefix: config.aclKeyPrefix,
    log,
    registry,
    pollIntervalMs: config.aclPollIntervalMs,
    maxStalenessMs: config.aclMaxStalenessMs,
    minRevisionWaitMs: config.aclMinRevisionWaitMs,
    streamMaxLen: config.aclStreamMaxLen,
    onReadiness: (serving) => runtime.health.set(serving ? "SERVING" : "NOT_SERVING"),
  });
  const write = createWriter({ pool: db.pool, sync, maxBatch: config.aclWriteBatch });
  const pageTokens = createPageTokens(await loadPageTokenKey(db.pool, "acl"));
  const closing = new AbortController();
  runtime.add(
    permissionService,
    {
      ...createCheckHandlers({ sync, pageTokens }),
      ...createGrantHandlers({ sync, pool: db.pool, write, pageTokens }),
      ...createRelationHandlers({ sync, pool: db.pool, write, closing: closing.signal }),
    },
    // One rate-limit token per question (docs/security.md F3), not one per batch of up to 1,000.
    { checkBatch: (r) => r.count },
  );
  const relay = startBackgroundRelay({
    natsUrl: config.natsUrl,
    runPrefix: config.runPrefix,
    name: "permission",
    pool: db.pool,
    listenUrl: config.databaseSessionUrl,
    schema: "acl",
    log,
    registry,
  });
  let snapshots: SnapshotKeeper | undefined;
  runtime.onShutdown(() => relay.stop());
  runtime.onShutdown(() => redis.disconnect());
  // Shutting down: streams end and the index stops flipping readiness back to SERVING.
  runtime.beforeStop(() => {
    closing.abort();
    snapshots?.stop();
    sync.stop();
  });
  await runtime.start();
  runtime.health.set("NOT_SERVING");
  await sync.start();
  snapshots = startSnapshotKeeper({
    sync,
    redis,
    log,
    intervalMs: config.aclSnapshotIntervalMs,
    every: config.aclSnapshotEvery,
  });
  return { runtime, sync, snapshots };
}
