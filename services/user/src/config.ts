import { commonSpec, parseConfig } from "@filemesh/kit";

export const userSpec = { ...commonSpec("user") };

export type UserConfig = ReturnType<typeof loadUserConfig>;

export function loadUserConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(userSpec, env);
}
