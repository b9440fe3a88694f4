import { commonSpec, parseConfig } from "@filemesh/kit";

export const permissionSpec = { ...commonSpec("permission") };

export type PermissionConfig = ReturnType<typeof loadPermissionConfig>;

export function loadPermissionConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(permissionSpec, env);
}
