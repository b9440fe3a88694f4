import { createLogger, loadConfigOrExit, runMain } from "@filemesh/kit";
import { startProcessorService } from "./app.js";
import { loadProcessorConfig } from "./config.js";

const config = loadConfigOrExit("processor", () => loadProcessorConfig());
const log = createLogger({ service: "processor", level: config.logLevel });
runMain(log, () => startProcessorService(config, log));
