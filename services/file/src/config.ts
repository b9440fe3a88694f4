import { commonSpec, parseConfig, redisSpec } from "@filemesh/kit";

export const fileSpec = { ...commonSpec("file"), ...redisSpec() };

export type FileConfig = ReturnType<typeof loadFileConfig>;

export function loadFileConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(fileSpec, env);
}
