import { commonSpec, parseConfig } from "@filemesh/kit";

export const processorSpec = { ...commonSpec("processor") };

export type ProcessorConfig = ReturnType<typeof loadProcessorConfig>;

export function loadProcessorConfig(env: Record<string, string | undefined> = process.env) {
  return parseConfig(processorSpec, env);
}
