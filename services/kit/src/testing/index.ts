// Helpers for tests that talk to real servers on loopback.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type CallOptions, Metadata, type ServiceError } from "@grpc/grpc-js";
import { rateClasses } from "../common-config.js";
import { type DecodedError, decodeServiceError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { createRegistry } from "../metrics.js";
import type { RuntimeOptions } from "../server.js";

/**
 * RATE_LIMITS with every class of the contracts lifted out of the way (a million a second),
 * except the ones a test sets itself (`{ login: "8/1h:8" }`).
 */
export const liftedRateLimits = (own: Record<string, string> = {}): string =>
  [...rateClasses()].map((c) => `${c}=${own[c] ?? "1000000/1s:1000000"}`).join(",");

export const uniqueId = (prefix = "t"): string =>
  `${prefix}${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;

/** A logger whose lines are kept in memory (to assert on, e.g. that no secret is logged). */
export function captureLogger(service = "test", level = "debug"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ service, level, destination }), lines };
}

/** A fresh RS256 key directory, as JWT_KEYS_DIR expects. */
export function tempKeyDir(count = 1): string {
  const dir = mkdtempSync(join(tmpdir(), "filemesh-keys-"));
  for (let i = 1; i <= count; i++) {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(
      join(dir, `${String(i).padStart(4, "0")}.pem`),
      privateKey.export({ type: "pkcs8", format: "pem" }),
    );
  }
  return dir;
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

/** Promisified unary call on a generated client method (`client.login.bind(client)`). */
export function call<Req, Res>(
  fn: (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: Callback<Res>) => unknown,
  req: Req,
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<Res> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve, reject) =>
    fn(req, md, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** Awaits a call expected to fail; returns its decoded status (code, reason, details). */
export async function failure(p: Promise<unknown>): Promise<DecodedError> {
  try {
    await p;
  } catch (err) {
    return decodeServiceError(err as ServiceError);
  }
  throw new Error("expected the call to fail, but it succeeded");
}
export {
  createDatabase,
  dropDatabase,
  dropTestDatabases,
  dropWhenFree,
  privateDatabase,
  TEST_DATABASE_PREFIX,
  testDatabaseUrl,
  testRunPrefix,
} from "./database.js";
export { minioBinary, startTestMinio, type TestMinio } from "./minio.js";
export { freePort, NATS_SERVER, type OwnNats, ownNatsServer } from "./nats.js";
export { listServices } from "./reflection.js";
export { dropRun } from "./run.js";
export { countingScripts } from "./script-counter.js";

/**
 * Options of a kit runtime on ephemeral loopback ports for a test: a captured logger, its own
 * metrics registry, no tracing, a 2 s shutdown without drain delay; `over` replaces any of them.
 */
export function loopbackRuntimeOptions(name: string, over: Partial<RuntimeOptions> = {}): RuntimeOptions {
  return {
    name,
    host: "127.0.0.1",
    port: 0,
    adminPort: 0,
    log: captureLogger("kit-test").log,
    registry: createRegistry(name),
    tracing: { shutdown: async () => {} },
    shutdownTimeoutMs: 2_000,
    drainDelayMs: 0,
    ...over,
  };
}
