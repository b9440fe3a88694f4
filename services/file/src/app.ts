// Wiring of the file service, in the order docs/conventions.md gives. main.ts and the tests call it.
import { createHmac } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import {
  bytesMessageSerializer,
  callerChecksOf,
  createPageTokens,
  createServiceRuntime,
  httpBodySerializer,
  type Logger,
  loadPageTokenKey,
  openServiceDatabase,
  type Runtime,
  startBackgroundRelay,
  startRequestPruning,
  useCallerChecks,
} from "@filemesh/kit";
import { type BlobStore, createBlobStore } from "@filemesh/kit/blob";
import type { FileConfig } from "./config.js";
import { createCdn } from "./data/cdn.js";
import { createDataHandler, DATA_PREFIX } from "./data/server.js";
import { createTickets, loadTicketKey } from "./data/ticket.js";
import type { FileDeps } from "./domain/deps.js";
import { startRedrive } from "./domain/redrive.js";
import { createCopyHandlers } from "./handlers/copy-handlers.js";
import { createDownloadHandlers } from "./handlers/download-handlers.js";
import { createJanitorHandlers } from "./handlers/janitor-handlers.js";
import { createLinkHandlers } from "./handlers/link-handlers.js";
import { createPartHandlers } from "./handlers/part-handlers.js";
import { createRawUploadHandlers } from "./handlers/raw-upload-handlers.js";
import { createSessionHandlers } from "./handlers/session-handlers.js";
import { createStateHandlers } from "./handlers/state-handlers.js";
import { createTrashHandlers } from "./handlers/trash-handlers.js";
import { createTreeHandlers } from "./handlers/tree-handlers.js";
import { createUpdateHandlers } from "./handlers/update-handlers.js";
import { createUsageHandlers } from "./handlers/usage-handlers.js";
import { createVersionHandlers } from "./handlers/version-handlers.js";
import { createHttpRouter, startHttpListener } from "./http/server.js";
import { type Access, createAccess } from "./peers/access.js";
import { fileReader, folderAndChildReader } from "./store/files.js";
import { fileSchema } from "./store/migrations.js";
import { fileAndVersionReader } from "./store/versions.js";
import { createTusHandler, TUS_PATH } from "./tus/handler.js";

/** The file service's runtime, with the port of its HTTP listener (data plane: tus). */
export type FileRuntime = Runtime & { httpPort: number };

export interface FileServiceOverrides {
  /** Tests: a fake permission service or a blob store of their own. */
  access?: Access;
  blobs?: BlobStore;
}

export async function startFileService(
  config: FileConfig,
  log: Logger,
  overrides: FileServiceOverrides = {},
): Promise<FileRuntime> {
  const { runtime, registry } = createServiceRuntime("file", config, log);
  useCallerChecks(runtime, { config, registry, log });
  const access = overrides.access ?? createAccess(config);
  runtime.onShutdown(() => access.close());
  const db = await openServiceDatabase(runtime, config, fileSchema, log);
  const blobs = overrides.blobs ?? createBlobStore(config);
  await blobs.init();
  const ticketKey = await loadTicketKey(db.pool);
  const deps: FileDeps = {
    pool: db.pool,
    reads: {
      file: fileReader(db.pool),
      folderAndChild: folderAndChildReader(db.pool),
      fileAndVersion: fileAndVersionReader(db.pool),
    },
    blobs,
    access,
    pageTokens: createPageTokens(await loadPageTokenKey(db.pool, "files")),
    tickets: createTickets(ticketKey),
    linkTokenKey: createHmac("sha256", ticketKey).update("filemesh share-link tokens").digest(),
    cdn: config.cdn && createCdn(config.cdn),
    settings: config,
    log,
  };
  // ReadFile's and GetFileContent's data messages (256 KiB by default) written once each (kit
  // grpc/bytes-message.ts).
  const { readFile, getFileContent } = filev1.FileServiceService;
  const service = {
    ...filev1.FileServiceService,
    readFile: {
      ...readFile,
      responseSerialize: bytesMessageSerializer(readFile.responseSerialize, 2, "data"),
    },
    getFileContent: {
      ...getFileContent,
      responseSerialize: httpBodySerializer(getFileContent.responseSerialize),
    },
  };
  runtime.add(service, {
    ...createTreeHandlers(deps),
    ...createUpdateHandlers(deps),
    ...createCopyHandlers(deps),
    ...createRawUploadHandlers(deps),
    ...createSessionHandlers(deps),
    ...createPartHandlers(deps),
    ...createUsageHandlers(deps),
    ...createDownloadHandlers(deps),
    ...createTrashHandlers(deps),
    ...createVersionHandlers(deps),
    ...createLinkHandlers(deps),
    ...createStateHandlers(deps),
    ...createJanitorHandlers(deps),
  });
  const relay = startBackgroundRelay({
    natsUrl: config.natsUrl,
    runPrefix: config.runPrefix,
    name: "file",
    pool: db.pool,
    schema: "files",
    log,
    registry,
  });
  runtime.onShutdown(() => relay.stop());
  const stopPruning = startRequestPruning(db.pool, "files", config.requestRetentionMs, (err) =>
    log.warn({ err: err.message }, "pruning request ids failed"),
  );
  runtime.onShutdown(stopPruning);
  if (!config.readyOnCommit) {
    runtime.onShutdown(startRedrive(db.pool, config.processingRedriveAfterMs, log));
  }
  // The data plane's HTTP listener: routes by path prefix (http/server.ts); tus at /v1/tus/.
  const router = createHttpRouter();
  router.mount(
    TUS_PATH,
    createTusHandler({ deps, checks: callerChecksOf(runtime), log: log.child({ http: "tus" }) }),
  );
  router.mount(
    DATA_PREFIX,
    createDataHandler({ blobs, tickets: deps.tickets, log: log.child({ http: "data" }), files: deps }),
  );
  await runtime.start();
  const http = await startHttpListener({ host: config.host, port: config.httpPort, router, log });
  runtime.onShutdown(() => http.close(config.shutdownTimeoutMs));
  return Object.assign(runtime, { httpPort: http.port });
}
