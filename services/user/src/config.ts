import { commonSpec, parseConfig, redisSpec } from "@filemesh/kit";

export const userSpec = { ...commonSpec("user"), ...redisSpec() };

export type UserConfig = ReturnType<typeof loadUserConfig>;

export function loadUserConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(userSpec, env);
}
