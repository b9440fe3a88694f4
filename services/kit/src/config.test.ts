import { describe, expect, it } from "vitest";
import { commonSpec, databaseSpec } from "./common-config.js";
import { ConfigError, duration, int, parseConfig, str } from "./config.js";

describe("parseConfig", () => {
  it("applies defaults", () => {
    const c = parseConfig({ ...commonSpec("auth"), ...databaseSpec() }, {});
    expect(c.port).toBe(50051);
    expect(c.adminPort).toBe(51051);
    expect(c.authAddrs).toEqual(["127.0.0.1:50051"]);
    expect(c.shutdownTimeoutMs).toBe(20_000);
    expect(c.databaseReadUrl).toBeUndefined();
  });

  it("lists every missing or invalid variable at once", () => {
    const spec = {
      ...commonSpec("file"),
      key: str("SIGNING_KEY"),
      timeout: duration("SOME_TIMEOUT"),
      workers: int("WORKERS", { min: 1, max: 8 }),
    };
    let error: ConfigError | undefined;
    try {
      parseConfig(spec, { GRPC_PORT: "http", LOG_LEVEL: "loud", SOME_TIMEOUT: "5 minutes", WORKERS: "9" });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.problems).toEqual([
      'GRPC_PORT must be an integer (got "http")',
      'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent (got "loud")',
      "SIGNING_KEY is required",
      'SOME_TIMEOUT must be a duration like "500ms", "30s", "15m", "12h" or "7d" (got "5 minutes")',
      'WORKERS must be <= 8 (got "9")',
    ]);
  });

  it("never echoes a secret value", () => {
    expect(() => parseConfig(databaseSpec(), { DATABASE_URL: "mysql://root:hunter2@db/x" })).toThrowError(
      /^invalid configuration:\n {2}- DATABASE_URL must use postgres or postgresql$/,
    );
  });

  it("parses durations", () => {
    const c = parseConfig(
      { a: duration("A"), b: duration("B"), c: duration("C") },
      { A: "250ms", B: "2m", C: "7d" },
    );
    expect(c).toEqual({ a: 250, b: 120_000, c: 604_800_000 });
  });
});
