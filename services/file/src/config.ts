import { commonSpec, parseConfig } from "@filemesh/kit";

export const fileSpec = { ...commonSpec("file") };

export type FileConfig = ReturnType<typeof loadFileConfig>;

export function loadFileConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(fileSpec, env);
}
