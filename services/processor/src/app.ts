import { processorv1 } from "@filemesh/contracts";
import { createServiceRuntime, type Logger, type Runtime, useCallerChecks } from "@filemesh/kit";
import type { ProcessorConfig } from "./config.js";

// Scaffolding: every RPC answers UNIMPLEMENTED (reason NOT_IMPLEMENTED) until its issue lands.
export async function startProcessorService(config: ProcessorConfig, log: Logger): Promise<Runtime> {
  const { runtime, registry } = createServiceRuntime("processor", config, log);
  useCallerChecks(runtime, { config, registry, log });
  runtime.add(processorv1.ProcessorServiceService, {}, "filemesh.processor.v1.ProcessorService");
  await runtime.start();
  return runtime;
}
