import { createLogger, loadConfigOrExit, runMain } from "@filemesh/kit";
import { startPermissionService } from "./app.js";
import { loadPermissionConfig } from "./config.js";

const config = loadConfigOrExit("permission", () => loadPermissionConfig());
const log = createLogger({ service: "permission", level: config.logLevel });
runMain(log, () => startPermissionService(config, log));
