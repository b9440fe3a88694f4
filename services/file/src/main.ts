import { createLogger, loadConfigOrExit, runMain } from "@filemesh/kit";
import { startFileService } from "./app.js";
import { loadFileConfig } from "./config.js";

const config = loadConfigOrExit("file", () => loadFileConfig());
const log = createLogger({ service: "file", level: config.logLevel });
runMain(log, () => startFileService(config, log));
