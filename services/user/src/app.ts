// Wiring of the user service, in the order docs/conventions.md gives. main.ts and the tests call it.
import { userv1 } from "@filemesh/contracts";
import {
  createPageTokens,
  createPool,
  createServiceRuntime,
  type Logger,
  loadPageTokenKey,
  openServiceDatabase,
  type Runtime,
  startBackgroundRelay,
  startRequestPruning,
  useCallerChecks,
} from "@filemesh/kit";
import type { UserConfig } from "./config.js";
import { startAclRepair } from "./domain/acl-repair.js";
import type { UserDeps } from "./domain/deps.js";
import { startProfileConsumer } from "./events/profile-consumer.js";
import { createGroupHandlers } from "./handlers/group-handlers.js";
import { createMemberHandlers } from "./handlers/member-handlers.js";
import { createProfileHandlers } from "./handlers/profile-handlers.js";
import { accountLookup } from "./peers/accounts.js";
import { aclWriter } from "./peers/acl.js";
import { createPeerClients } from "./peers/clients.js";
import { homeFolders } from "./peers/home-folders.js";
import { userSchema } from "./store/migrations.js";
import { setHomeFolder } from "./store/profiles.js";

export async function startUserService(config: UserConfig, log: Logger): Promise<Runtime> {
  const { runtime, registry } = createServiceRuntime("user", config, log);
  useCallerChecks(runtime, { config, registry, log });
  const peers = createPeerClients(config);
  runtime.onShutdown(() => peers.close());
  const db = await openServiceDatabase(runtime, config, userSchema, log);
  // The membership intents' own connections (domain/tx.ts): two, whatever `poolSize`.
  const intentPool = createPool(config.databaseUrl, 2, log, "intents");
  runtime.onShutdown(() => intentPool.end());
  const deps: UserDeps = {
    pool: db.pool,
    intentPool,
    accounts: accountLookup(peers),
    homeFolders: homeFolders(peers, log),
    acl: aclWriter(peers),
    pageTokens: createPageTokens(await loadPageTokenKey(db.pool, "users")),
  };
  runtime.add(userv1.UserServiceService, {
    ...createProfileHandlers(deps),
    ...createGroupHandlers(deps),
    ...createMemberHandlers(deps),
  });
  const relay = startBackgroundRelay({
    natsUrl: config.natsUrl,
    runPrefix: config.runPrefix,
    name: "user",
    pool: db.pool,
    listenUrl: config.databaseSessionUrl,
    schema: "users",
    log,
    registry,
  });
  runtime.onShutdown(() => relay.stop());
  if (config.profileConsumer) {
    const consumer = startProfileConsumer({
      natsUrl: config.natsUrl,
      runPrefix: config.runPrefix,
      pool: db.pool,
      log,
      onCreated: async (userId) => {
        const folderId = await deps.homeFolders(userId);
        if (folderId) await setHomeFolder(db.pool, userId, folderId);
      },
    });
    runtime.onShutdown(() => consumer.stop());
  }
  runtime.onShutdown(startAclRepair(deps, config.aclRepairAfterMs, log));
  const stopPruning = startRequestPruning(db.pool, "users", config.requestRetentionMs, (err) =>
    log.warn({ err: err.message }, "pruning request ids failed"),
  );
  runtime.onShutdown(stopPruning);
  await runtime.start();
  return runtime;
}
