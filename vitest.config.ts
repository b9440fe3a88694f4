import { defineConfig } from "vitest/config";

/**
 * The heavy end-to-end files run after the rest: the browser console test alone (Chromium and a
 * mesh; beside three other files on the CI machine's two cores it starved — a 10 MiB file took
 * over 15 s to reach the browser, a permission call ran past its deadline), then the two fault
 * suites side by side (a dozen service processes, their own stores and toxiproxy each: 150 s
 * together, 260 s one after the other). Side by side they once broke an acknowledged membership,
 * fixed since by fencing tokens (docs/reliability.md "Two stores, one change"). The others run
 * three at a time.
 */
const CONSOLE = ["test/console/**/*.test.ts"];
const FAULTS = ["test/faults/**/*.test.ts"];

export default defineConfig({
  test: {
    globalSetup: ["./test/global-setup.ts"],
    // Each file on a database and NATS prefix of its own (test/setup-file.ts), so workers never
    // meet. Three on the CI machine's two cores: the suites wait on sockets about half the time
    // (a fresh clone's `npm ci && npm test`: 12 min 51 s with two workers, 10 min 26 s with three).
    setupFiles: ["./test/setup-file.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Every test file imports the services' sources again in a fresh worker; transformed
    // modules kept on disk (node_modules/.vite, by content hash) are transformed once per run.
    experimental: { fsModuleCache: true },
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "suites",
          include: ["services/*/src/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...CONSOLE, ...FAULTS],
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "console", include: CONSOLE, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: "faults", include: FAULTS, maxWorkers: 2, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
