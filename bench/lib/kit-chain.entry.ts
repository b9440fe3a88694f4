// The kit's per-call CPU budget (issue 14), with the project's own code bundled from the
// sources: what every authenticated unary call costs in the kit, measured three ways.
//  1. In process: the call context addService makes (createCallContext) and the runtime's
//     middleware chain (observe = metrics + logging, authMiddleware, rateLimitMiddleware, as
//     callerChecks builds them) around a no-op handler, for a user with a valid token and a
//     live session (cached) whose rate class is lifted (as in the bench's mesh): CPU µs per
//     call (process.cpuUsage over slices, one call at a time). Target ≤ 40 µs.
//  2. Through gRPC, in one process: a kit runtime (createRuntime, the same chain) serving
//     PermissionService/Check with a handler that answers at once, against
//     grpc.health.v1.Health/Check on the same server, from a grpc-js client in the same
//     process with 16 calls in flight, interleaved: CPU µs per call of the process (client
//     included, the same client for both) and rps; Check − Health is what the kit adds.
//  3. The rate limiter's local bucket for one hot caller: 32 calls in flight, each letting I/O
//     in between (as a server's calls arrive), 20,000 calls of a lifted limit: Redis leases and
//     calls that waited for one, per 1,000 calls.
// The Redis is private (--redis-url); prints { tables, notes, figures } as JSON.
import { generateKeyPairSync } from "node:crypto";
import { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { methodCatalog, permissionv1 } from "@filemesh/contracts";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { keyFromPem, signAccessToken } from "../../services/auth/src/domain/tokens.ts";
import { createSession } from "../../services/auth/src/store/sessions.ts";
import { createKeySource, type JwkLike } from "../../services/kit/src/auth/jwks.ts";
import { authMiddleware } from "../../services/kit/src/auth/middleware.ts";
import { createSessionChecker } from "../../services/kit/src/auth/session-keys.ts";
import { compose, type Middleware } from "../../services/kit/src/grpc/middleware.ts";
import { createCallContext } from "../../services/kit/src/grpc/service.ts";
import { createLogger } from "../../services/kit/src/logger.ts";
import { createRegistry, observeMiddleware } from "../../services/kit/src/metrics.ts";
import { parseLimits } from "../../services/kit/src/ratelimit/gcra.ts";
import { createLocalBucket } from "../../services/kit/src/ratelimit/local-bucket.ts";
import { rateLimitMiddleware } from "../../services/kit/src/ratelimit/middleware.ts";
import { createRuntime } from "../../services/kit/src/server.ts";
import { countingScripts } from "../../services/kit/src/testing/script-counter.ts";

const { values } = parseArgs({
  options: {
    "redis-url": { type: "string" },
    rounds: { type: "string", default: "3" },
    "slice-ms": { type: "string", default: "1000" },
    concurrency: { type: "string", default: "16" },
  },
});
const rounds = Number(values.rounds);
const sliceMs = Number(values["slice-ms"]);
const concurrency = Number(values.concurrency);
const redis = new Redis(values["redis-url"]!, { enableAutoPipelining: true });

const settings = { issuer: "filemesh", audience: "filemesh" };
const idleMs = 15 * 60_000;
const pem = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ format: "pem", type: "pkcs8" })
  .toString();
const signing = keyFromPem(pem);
const keys = createKeySource(async () => [signing.jwk as unknown as JwkLike]);
const userId = "0b7e3f52-6c1a-4d4e-9a43-3f1f0f3c2a11";
const session = await createSession(
  redis,
  { idleMs, absoluteMs: 3_600_000 },
  { userId, userAgent: "bench", clientAddress: "127.0.0.1" },
);
const token = signAccessToken(
  { current: signing, all: [signing] },
  { ...settings, ttlMs: 900_000 },
  { sub: userId, sid: session.sessionId },
);

// As the services run it: info level (OK calls log at debug), lines to nowhere.
const sink = new Writable({ write: (_c, _e, cb) => cb() });
const log = createLogger({ service: "bench", level: "info", destination: sink });
const callerChecks = (): Middleware[] => [
  authMiddleware({
    keys,
    verify: settings,
    sessions: createSessionChecker(redis, idleMs),
    internal: { mode: "token", token: "bench-internal-token-0123456789" },
  }),
  rateLimitMiddleware({
    redis,
    limits: parseLimits("check=1000000/1s:1000000"),
    trustForwardedFor: false,
  }),
];

// 1. In process.
const method = methodCatalog.find((m) => m.path === "/filemesh.permission.v1.PermissionService/Check")!;
const chain = compose([observeMiddleware(createRegistry("bench")), ...callerChecks()]);
const metadata = new Metadata();
metadata.set("authorization", `Bearer ${token}`);
const fakeCall = {
  metadata,
  getDeadline: () => Number.POSITIVE_INFINITY,
  getPeer: () => "127.0.0.1:1",
  sendMetadata() {},
  on() {},
  off() {},
};
const handler = async () => {};
const oneCall = async () => {
  const ctx = createCallContext(fakeCall as never, method, log);
  await chain(ctx, handler);
  ctx.done();
};

// 2. Through gRPC.
const runtime = createRuntime({
  name: "bench",
  host: "127.0.0.1",
  port: 0,
  adminPort: 0,
  log,
  registry: createRegistry("bench-grpc"),
  tracing: { shutdown: async () => {} },
  shutdownTimeoutMs: 1000,
  drainDelayMs: 0,
  middlewares: callerChecks(),
});
runtime.addPartial(permissionv1.PermissionServiceService, {
  check: async () => ({ allowed: false, revision: "0" }),
});
await runtime.start();
const client = new Client(`127.0.0.1:${runtime.port}`, credentials.createInsecure());
const checkReq = permissionv1.PermissionServiceService.check.requestSerialize({
  subject: "",
  resource: "file:bench",
  permission: "read",
  minRevision: "",
});
const identity = (b: Buffer) => b;
/** One unary call of `path` with the request bytes `req` and metadata `md()`. */
const unary = (path: string, req: Buffer, md: () => Metadata) => (): Promise<void> =>
  new Promise((resolve, reject) =>
    client.makeUnaryRequest(path, identity, identity, req, md(), (err) => (err ? reject(err) : resolve())),
  );
const HEALTH = "/grpc.health.v1.Health/Check";
const grpcCalls: Record<string, () => Promise<void>> = {
  "grpc.health.v1.Health/Check": unary(HEALTH, Buffer.alloc(0), () => new Metadata()),
  // The same empty health call carrying Check's Authorization header: what the header's
  // transport costs (HPACK, grpc-js's metadata) apart from anything the kit does with it.
  "grpc.health.v1.Health/Check + Authorization header": unary(HEALTH, Buffer.alloc(0), () =>
    metadata.clone(),
  ),
  "PermissionService/Check (kit chain + no-op handler)": unary(method.path, checkReq, () => metadata.clone()),
};

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
async function sequential(fn: () => Promise<void>, ms: number) {
  let n = 0;
  const c0 = cpuUs();
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) await fn();
    n += 200;
  }
  return { calls: n, cpuUs: cpuUs() - c0, wallMs: ms };
}
async function parallel(fn: () => Promise<void>, ms: number) {
  let n = 0;
  const c0 = cpuUs();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await fn();
        n++;
      }
    }),
  );
  return { calls: n, cpuUs: cpuUs() - c0, wallMs: performance.now() - t0 };
}

for (let i = 0; i < 2000; i++) await oneCall(); // warm-up
for (const fn of Object.values(grpcCalls)) await parallel(fn, 300);
const totals: Record<string, { calls: number; cpuUs: number; wallMs: number }> = {};
const add = (name: string, r: { calls: number; cpuUs: number; wallMs: number }) => {
  totals[name] ??= { calls: 0, cpuUs: 0, wallMs: 0 };
  const t = totals[name];
  t.calls += r.calls;
  t.cpuUs += r.cpuUs;
  t.wallMs += r.wallMs;
};
const IN_PROCESS = "kit chain in process (context + observe + auth + rate limit)";
for (let r = 0; r < rounds; r++) {
  add(IN_PROCESS, await sequential(oneCall, sliceMs));
  for (const [name, fn] of Object.entries(grpcCalls)) add(name, await parallel(fn, sliceMs));
}
client.close();
await runtime.shutdown("bench end");

// 3. The local bucket for one hot caller: leases (script calls) and calls that waited.
const { redis: countedRedis, counter: scripts } = countingScripts(redis);
const bucket = createLocalBucket(countedRedis);
const bucketLimit = parseLimits("check=1000000/1s:1000000").check!;
const bucketKey = `fm:bench:kit-chain:${process.pid}`;
const BUCKET_CALLS = 20_000;
let waited = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    for (let i = 0; i < BUCKET_CALLS / 32; i++) {
      const taken = bucket.take(bucketKey, bucketLimit, 1);
      if (typeof taken !== "number") waited++;
      await taken;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }),
);
await redis.del(`${bucketKey}:us`);
await redis.quit();
const perThousand = (n: number) => Math.round((n * 10_000) / BUCKET_CALLS) / 10;

const round1 = (x: number) => Math.round(x * 10) / 10;
const per = (name: string) => totals[name]!.cpuUs / totals[name]!.calls;
const rps = (name: string) => (totals[name]!.calls * 1000) / totals[name]!.wallMs;
const health = "grpc.health.v1.Health/Check";
const check = "PermissionService/Check (kit chain + no-op handler)";
const healthAuth = "grpc.health.v1.Health/Check + Authorization header";
const figures = {
  inProcessCpuUsPerCall: per(IN_PROCESS),
  grpcCpuUsPerCall: {
    check: per(check),
    health: per(health),
    healthWithHeader: per(healthAuth),
    kitAdds: per(check) - per(health),
    headerAdds: per(healthAuth) - per(health),
  },
  grpcRps: { check: rps(check), health: rps(health), ratio: rps(check) / rps(health) },
  rateLimiter: {
    leasesPerThousandCalls: perThousand(scripts.calls),
    waitsPerThousandCalls: perThousand(waited),
  },
};
const ratio = (x: number) => (Math.round(x * 100) / 100).toFixed(2);
process.stdout.write(
  `${JSON.stringify({
    tables: [
      {
        title: `Kit per-call CPU (${rounds} rounds × ${sliceMs} ms; gRPC with ${concurrency} in flight, client in the same process)`,
        header: ["measure", "calls", "CPU µs per call", "calls/s"],
        rows: Object.keys(totals).map((n) => [n, totals[n]!.calls, round1(per(n)), Math.round(rps(n))]),
      },
    ],
    notes: [
      `kit middleware chain per authenticated unary call, in process: **${round1(per(IN_PROCESS))} µs CPU** (target ≤ 40 µs)`,
      `through gRPC: Check ${round1(per(check))} µs vs health ${round1(per(health))} µs CPU per call (client included): ` +
        `the kit adds **${round1(per(check) - per(health))} µs**; rps ${ratio(rps(check) / rps(health))} × health`,
      `of which the Authorization header's transport alone (the health call carrying it): ` +
        `${round1(per(healthAuth) - per(health))} µs; rps ${ratio(rps(healthAuth) / rps(health))} × health`,
      `the rate limiter for one hot caller (32 calls in flight, ${BUCKET_CALLS.toLocaleString("en")} calls): ` +
        `**${perThousand(scripts.calls)} Redis leases and ${perThousand(waited)} waits per 1,000 calls** ` +
        "(before stop 39, a fixed batch of 100 leased when spent: 10 leases, 317 waits)",
    ],
    figures,
  })}\n`,
);
