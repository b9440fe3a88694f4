import { commonSpec, parseConfig, redisSpec } from "@filemesh/kit";

export const processorSpec = { ...commonSpec("processor"), ...redisSpec() };

export type ProcessorConfig = ReturnType<typeof loadProcessorConfig>;

export function loadProcessorConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(processorSpec, env);
}
