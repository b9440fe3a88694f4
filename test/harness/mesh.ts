// Starts real services in-process on free loopback ports, wired to each other, for
// integration tests across services. Each test file gets its own mesh (and its own keys).
import { randomBytes } from "node:crypto";
import { authv1, filev1, permissionv1, processorv1, userv1 } from "@filemesh/contracts";
import { decodeServiceError, newRunPrefix, type Runtime } from "@filemesh/kit";
import {
  call,
  captureLogger,
  dropRun,
  liftedRateLimits,
  tempKeyDir,
  testDatabaseUrl,
  testRunPrefix,
  uniqueId,
} from "@filemesh/kit/testing";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { startAuthService } from "../../services/auth/src/app.js";
import { loadAuthConfig } from "../../services/auth/src/config.js";
import { type FileRuntime, startFileService } from "../../services/file/src/app.js";
import { loadFileConfig } from "../../services/file/src/config.js";
import { startPermissionService } from "../../services/permission/src/app.js";
import { loadPermissionConfig } from "../../services/permission/src/config.js";
import { startProcessorService } from "../../services/processor/src/app.js";
import { loadProcessorConfig } from "../../services/processor/src/config.js";
import { startUserService } from "../../services/user/src/app.js";
import { loadUserConfig } from "../../services/user/src/config.js";

export type ServiceName = "auth" | "user" | "permission" | "file" | "processor";
type Env = Record<string, string>;

const starters: Record<
  ServiceName,
  (env: Env, log: ReturnType<typeof captureLogger>["log"]) => Promise<Runtime>
> = {
  auth: (env, log) => startAuthService(loadAuthConfig(env), log),
  user: (env, log) => startUserService(loadUserConfig(env), log),
  permission: (env, log) => startPermissionService(loadPermissionConfig(env), log),
  file: (env, log) => startFileService(loadFileConfig(env), log),
  processor: (env, log) => startProcessorService(loadProcessorConfig(env), log),
};

/** Order in which services start (each may need the ones before it). */
const ORDER: ServiceName[] = ["auth", "permission", "file", "user", "processor"];

export interface TestMeshOptions {
  services: ServiceName[];
  /** Replicas per service (default 1). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Extra env for every service, or per service. */
  env?: Env;
  serviceEnv?: Partial<Record<ServiceName, Env>>;
}

export interface TestMesh {
  env: Env;
  /** Runtimes per service, one per replica. */
  runtimes: Record<ServiceName, Runtime[]>;
  addr(service: ServiceName, replica?: number): string;
  auth: authv1.AuthServiceClient;
  user: userv1.UserServiceClient;
  permission: permissionv1.PermissionServiceClient;
  file: filev1.FileServiceClient;
  processor: processorv1.ProcessorServiceClient;
  /** Log lines of every service (to assert that no secret is logged). */
  lines: string[];
  /** Registers and logs in a fresh user; returns ids and an authorization header. */
  newUser(): Promise<{
    userId: string;
    email: string;
    password: string;
    token: string;
    sessionId: string;
    headers: Env;
  }>;
  /** Headers that identify a mesh service on internal methods. */
  serviceHeaders(name: string): Env;
  stop(): Promise<void>;
}

export async function startTestMesh(opts: TestMeshOptions): Promise<TestMesh> {
  const { log, lines } = captureLogger("mesh", "info");
  const env: Env = {
    GRPC_PORT: "0",
    ADMIN_PORT: "0",
    FILE_HTTP_PORT: "0",
    LOG_LEVEL: "info",
    DATABASE_URL: testDatabaseUrl(),
    JWT_KEYS_DIR: tempKeyDir(),
    PASSWORD_PEPPER: randomBytes(32).toString("base64url"),
    INTERNAL_TOKEN: randomBytes(24).toString("base64url"),
    BCRYPT_COST: "4",
    // Events start in the database's outbox, so every mesh on the test file's database uses
    // the file's NATS streams and consumers (testRunPrefix); a mesh on a database of its own
    // gets its own. Redis keys are this mesh's own either way, so meshes do not share
    // failed-login counters (kit run-prefix.ts).
    RUN_PREFIX: opts.env?.DATABASE_URL ? newRunPrefix("t") : testRunPrefix(),
    REDIS_PREFIX: newRunPrefix("t"),
    // Failed-login counters are per client address (one hour, per mesh through RUN_PREFIX):
    // tests that exercise throttling set their own limits and a unique X-Forwarded-For.
    LOGIN_FREE_ATTEMPTS: "100",
    TRUST_FORWARDED_FOR: "true",
    RATE_LIMITS: liftedRateLimits(),
    // Uploads are READY at commit unless a test exercises the processor (it sets "false").
    FILES_READY_ON_COMMIT: "true",
    ...opts.env,
  };
  const runtimes = {} as Record<ServiceName, Runtime[]>;
  const wanted = ORDER.filter((s) => opts.services.includes(s) || s === "auth");
  try {
    for (const s of wanted) {
      runtimes[s] = [];
      for (let i = 0; i < (opts.replicas?.[s] ?? 1); i++) {
        runtimes[s].push(
          await starters[s]({ ...env, ...opts.serviceEnv?.[s] }, log.child({ service: s, replica: i })),
        );
      }
      env[`${s.toUpperCase()}_ADDRS`] = runtimes[s].map((r) => `127.0.0.1:${r.port}`).join(",");
      if (s === "file") {
        // The file service's HTTP listeners (tus), for the gateway's FILE_HTTP_ADDRS.
        env.FILE_HTTP_ADDRS = runtimes[s].map((r) => `127.0.0.1:${(r as FileRuntime).httpPort}`).join(",");
      }
    }
  } catch (err) {
    for (const rs of Object.values(runtimes)) for (const r of rs) await r.shutdown("start failed");
    throw err;
  }
  const addr = (s: ServiceName, i = 0) => {
    const r = runtimes[s]?.[i];
    if (!r) throw new Error(`${s}#${i} is not running in this mesh`);
    return `127.0.0.1:${r.port}`;
  };
  const client = <C>(
    Ctor: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => C,
    s: ServiceName,
  ) => (runtimes[s] ? new Ctor(addr(s), credentials.createInsecure()) : (undefined as unknown as C));
  const mesh: TestMesh = {
    env,
    runtimes,
    addr,
    lines,
    auth: client(authv1.AuthServiceClient, "auth"),
    user: client(userv1.UserServiceClient, "user"),
    permission: client(permissionv1.PermissionServiceClient, "permission"),
    file: client(filev1.FileServiceClient, "file"),
    processor: client(processorv1.ProcessorServiceClient, "processor"),
    async newUser() {
      const email = `${uniqueId("u")}@example.com`;
      const password = `pw-${randomBytes(12).toString("hex")}`;
      const { user } = await call(mesh.auth.register.bind(mesh.auth), {
        email,
        password,
        displayName: email.slice(0, 12),
      });
      const res = await call(mesh.auth.login.bind(mesh.auth), { email, password });
      return {
        userId: user!.id,
        email,
        password,
        token: res.accessToken,
        sessionId: res.sessionId,
        headers: { authorization: `Bearer ${res.accessToken}` },
      };
    },
    serviceHeaders: (name) => ({
      "x-filemesh-service": name,
      "x-filemesh-internal-token": env.INTERNAL_TOKEN!,
    }),
    async stop() {
      for (const c of [mesh.auth, mesh.user, mesh.permission, mesh.file, mesh.processor]) c?.close();
      for (const s of [...wanted].reverse()) for (const r of runtimes[s] ?? []) await r.shutdown("test end");
      // A prefix the caller passed in is the caller's (a test that restarts a mesh on the same
      // Redis keys, sessions included): only what this mesh made up is dropped.
      const own = (name: "RUN_PREFIX" | "REDIS_PREFIX") => (opts.env?.[name] ? "" : env[name]!);
      await dropRun(env.RUN_PREFIX === testRunPrefix() ? "" : own("RUN_PREFIX"), own("REDIS_PREFIX"), {
        natsUrl: env.NATS_URL ?? process.env.NATS_URL,
        redisUrl: env.REDIS_URL ?? process.env.REDIS_URL,
      });
    },
  };
  return mesh;
}

/**
 * How a call fared: "PASSED" when it succeeded, else its ErrorInfo reason (or the status name
 * when the error carries none). Every outcome is distinct, so a test names exactly the one it
 * expects: a handler that breaks (INTERNAL, UNAVAILABLE, a wrong reason) fails the test instead
 * of passing as "reached the handler".
 */
export async function authOutcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "PASSED";
  } catch (err) {
    const d = decodeServiceError(err as ServiceError);
    return d.reason || `${status[d.code] ?? d.code}`;
  }
}
