import { userv1 } from "@filemesh/contracts";
import { createServiceRuntime, type Logger, type Runtime, useCallerChecks } from "@filemesh/kit";
import type { UserConfig } from "./config.js";

// Scaffolding: every RPC answers UNIMPLEMENTED (reason NOT_IMPLEMENTED) until its issue lands.
export async function startUserService(config: UserConfig, log: Logger): Promise<Runtime> {
  const { runtime, registry } = createServiceRuntime("user", config, log);
  useCallerChecks(runtime, { config, registry, log });
  runtime.add(userv1.UserServiceService, {}, "filemesh.user.v1.UserService");
  await runtime.start();
  return runtime;
}
