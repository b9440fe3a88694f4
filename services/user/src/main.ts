import { createLogger, loadConfigOrExit, runMain } from "@filemesh/kit";
import { startUserService } from "./app.js";
import { loadUserConfig } from "./config.js";

const config = loadConfigOrExit("user", () => loadUserConfig());
const log = createLogger({ service: "user", level: config.logLevel });
runMain(log, () => startUserService(config, log));
