import { filev1 } from "@filemesh/contracts";
import { createServiceRuntime, type Logger, type Runtime, useCallerChecks } from "@filemesh/kit";
import type { FileConfig } from "./config.js";

// Scaffolding: every RPC answers UNIMPLEMENTED (reason NOT_IMPLEMENTED) until its issue lands.
export async function startFileService(config: FileConfig, log: Logger): Promise<Runtime> {
  const { runtime, registry } = createServiceRuntime("file", config, log);
  useCallerChecks(runtime, { config, registry, log });
  runtime.add(filev1.FileServiceService, {}, "filemesh.file.v1.FileService");
  await runtime.start();
  return runtime;
}
