import { commonSpec, parseConfig, redisSpec } from "@filemesh/kit";

export const permissionSpec = { ...commonSpec("permission"), ...redisSpec() };

export type PermissionConfig = ReturnType<typeof loadPermissionConfig>;

export function loadPermissionConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(permissionSpec, env);
}
