import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["services/*/src/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two test files at a time (vitest's default here would be one: cores − 1). The suites are
    // isolated for it: each mesh has its own run prefix (NATS streams, Redis keys), suites that
    // count or sweep rows have a database of their own, and freePort hands each worker its own
    // port range. 12.5 → 8 minutes on 2 cores.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
