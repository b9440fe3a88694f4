import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["services/*/src/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    // Each file on a database and NATS prefix of its own (test/setup-file.ts), so workers never
    // meet. Three on the CI machine's two cores: the suites wait on sockets about half the time
    // (a fresh clone's `npm ci && npm test`: 12 min 51 s with two workers, 10 min 26 s with three).
    setupFiles: ["./test/setup-file.ts"],
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default"],
  },
});
