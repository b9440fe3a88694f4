import { permissionv1 } from "@filemesh/contracts";
import { createServiceRuntime, type Logger, type Runtime, useCallerChecks } from "@filemesh/kit";
import type { PermissionConfig } from "./config.js";

// Scaffolding: every RPC answers UNIMPLEMENTED (reason NOT_IMPLEMENTED) until its issue lands.
export async function startPermissionService(config: PermissionConfig, log: Logger): Promise<Runtime> {
  const { runtime, registry } = createServiceRuntime("permission", config, log);
  useCallerChecks(runtime, { config, registry, log });
  runtime.add(permissionv1.PermissionServiceService, {}, "filemesh.permission.v1.PermissionService");
  await runtime.start();
  return runtime;
}
