import { createLogger, loadConfigOrExit, runMain } from "@filemesh/kit";
import { startAuthService } from "./app.js";
import { loadAuthConfig } from "./config.js";

const config = loadConfigOrExit("auth", () => loadAuthConfig());
const log = createLogger({ service: "auth", level: config.logLevel });
runMain(log, () => startAuthService(config, log));
