import { randomBytes } from "node:crypto";
import { authv1 } from "@filemesh/contracts";
import type { Runtime } from "@filemesh/kit";
import { captureLogger, tempKeyDir, testDatabaseUrl, testRunPrefix } from "@filemesh/kit/testing";
import { credentials } from "@grpc/grpc-js";
import { startAuthService } from "../src/app.js";
import { loadAuthConfig } from "../src/config.js";

/** Starts a real auth service on a free loopback port against the test database. */
export async function startTestAuth(env: Record<string, string> = {}) {
  const { log, lines } = captureLogger("auth", "debug");
  const config = loadAuthConfig({
    GRPC_PORT: "0",
    ADMIN_PORT: "0",
    DATABASE_URL: testDatabaseUrl(),
    RUN_PREFIX: testRunPrefix(),
    JWT_KEYS_DIR: tempKeyDir(),
    PASSWORD_PEPPER: randomBytes(32).toString("base64url"),
    BCRYPT_COST: "4",
    LOGIN_FREE_ATTEMPTS: "100",
    INTERNAL_TOKEN: randomBytes(24).toString("base64url"),
    // Tests call from one address; limits are tested on their own with strict settings.
    RATE_LIMITS:
      "login=100000/1s:100000,register=100000/1s:100000,read=100000/1s:100000,write=100000/1s:100000",
    ...env,
  });
  const runtime: Runtime = await startAuthService(config, log);
  const client = new authv1.AuthServiceClient(`127.0.0.1:${runtime.port}`, credentials.createInsecure());
  return {
    runtime,
    client,
    lines,
    config,
    async stop() {
      client.close();
      await runtime.shutdown("test end");
    },
  };
}
