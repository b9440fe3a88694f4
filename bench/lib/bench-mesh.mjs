// The mesh a scenario runs against. The default is the one the runner always started (one
// replica of each service, dev database `filemesh`, the shared Redis and NATS, fs blobs). A
// scenario that needs something else says so in `bench.mesh`; the runner runs scenarios with the
// same needs together and restarts the mesh between such groups:
//   hashConcurrency  "cores-1" (at least 1) or a number: HASH_CONCURRENCY of the services
//   private          true: a database of its own (filemesh_bench), a private redis-server and
//                    nats-server, so its events, sessions and permission stream stay in it
//   minio            true: the s3 blob driver on a private MinIO (implies private)
//   env              more environment for every service (e.g. FILES_READY_ON_COMMIT)
//   stop             services stopped once the mesh is up (e.g. ["processor"])
// or the name of one of the MESHES below, which several scenarios share.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { createMesh, GATEWAY_PORT, SERVICES } from "../../scripts/lib/mesh.mjs";
import { waitPortsFree } from "./ports.mjs";
import { startPrivateRedis } from "./private-redis.mjs";
import { startPrivateMinio, startPrivateNats } from "./private-servers.mjs";

export const PRIVATE_DATABASE_URL =
  process.env.BENCH_PRIVATE_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/filemesh_bench";

const FILE_LIMITS = {
  // Every bench user uploads far more than the default 10 GiB over the runs.
  DEFAULT_QUOTA_BYTES: String(2 ** 50),
  // 256 MiB REST uploads, and the 1 GiB file the memory scenario downloads (seeded by UploadFile).
  MAX_RAW_UPLOAD_BYTES: String(2 ** 31),
};
export const MESHES = {
  // The file service on MinIO with files READY at commit, and no processor: its checks would
  // read every upload back at random moments, competing for the cores with the measurement.
  files: {
    minio: true,
    env: { ...FILE_LIMITS, FILES_READY_ON_COMMIT: "true" },
    stop: ["processor"],
  },
  // Uploads wait in PROCESSING until the processor marks them.
  processor: { minio: true, env: { ...FILE_LIMITS, FILES_READY_ON_COMMIT: "false" } },
};

/** The normalized needs of a scenario (equal needs ⇒ the same mesh). */
export function meshSpec(bench, { cores }) {
  const m = typeof bench.mesh === "string" ? MESHES[bench.mesh] : (bench.mesh ?? {});
  if (!m) throw new Error(`bench.mesh "${bench.mesh}": not one of ${Object.keys(MESHES).join(", ")}`);
  const known = ["hashConcurrency", "private", "minio", "env", "stop"];
  for (const k of Object.keys(m)) if (!known.includes(k)) throw new Error(`bench.mesh.${k}: unknown`);
  const spec = {};
  if (m.hashConcurrency !== undefined) {
    spec.hashConcurrency =
      m.hashConcurrency === "cores-1" ? Math.max(1, cores - 1) : Number(m.hashConcurrency);
    if (!Number.isInteger(spec.hashConcurrency) || spec.hashConcurrency < 1)
      throw new Error(`bench.mesh.hashConcurrency: "cores-1" or a positive integer`);
  }
  if (m.private || m.minio) spec.private = true;
  if (m.minio) spec.minio = true;
  if (m.env && Object.keys(m.env).length) spec.env = Object.fromEntries(Object.entries(m.env).sort());
  if (m.stop?.length) spec.stop = [...m.stop].sort();
  return spec;
}

export const meshKey = (spec) => JSON.stringify(spec);

/** What differs from the default mesh, for the report ("" for the default). */
export function describeMesh(spec) {
  const parts = [];
  if (spec.hashConcurrency) parts.push(`HASH_CONCURRENCY=${spec.hashConcurrency}`);
  if (spec.private) parts.push("private database filemesh_bench + redis-server + nats-server");
  if (spec.minio) parts.push("BLOB_DRIVER=s3 on a private MinIO");
  for (const [k, v] of Object.entries(spec.env ?? {})) parts.push(`${k}=${v}`);
  if (spec.stop) parts.push(`stopped: ${spec.stop.join(", ")}`);
  return parts.join("; ");
}

/**
 * Starts the mesh (and its private servers) for `spec`; resolves with
 * { pids, env, servers, commands, stop }. `pids` maps service names (and minio, redis, nats) to
 * the process ids the runner reads CPU time from.
 */
export async function startBenchMesh({ root, spec, env: baseEnv, runDir, log }) {
  const meshLog = join(runDir, "mesh.log");
  const env = { ...baseEnv };
  // The bench's own streams, consumers and Redis keys (not the dev mesh's nor the tests').
  env.RUN_PREFIX ??= "bench";
  if (spec.hashConcurrency) env.HASH_CONCURRENCY = String(spec.hashConcurrency);
  const servers = {};
  const commands = [];
  const stopServers = async () => {
    for (const s of Object.values(servers).reverse()) await s.stop().catch(() => {});
  };
  let mesh;
  try {
    if (spec.private) {
      servers.redis = await startPrivateRedis({ dir: runDir });
      servers.nats = await startPrivateNats();
      Object.assign(env, { DATABASE_URL: PRIVATE_DATABASE_URL, REDIS_URL: servers.redis.url });
      env.NATS_URL = servers.nats.url;
    }
    if (spec.minio) {
      servers.minio = await startPrivateMinio({ root });
      Object.assign(env, servers.minio.env);
    }
    Object.assign(env, spec.env);
    // Experiments: BENCH_SERVICE_ENV='K=V,K2=V2' for every service (e.g. DOWNLOAD_CHUNK_BYTES or
    // NODE_OPTIONS=--max-semi-space-size=32), recorded with the run's commands.
    for (const kv of (process.env.BENCH_SERVICE_ENV ?? "").split(",").filter(Boolean)) {
      const at = kv.indexOf("=");
      env[kv.slice(0, at)] = kv.slice(at + 1);
      commands.push(`# service env ${kv} (BENCH_SERVICE_ENV)`);
    }
    // Diagnostics (bench/lib/diagnostics-preload.mjs), for every Node service: BENCH_CPU_PROF=1
    // writes a V8 CPU profile at exit (bench/lib/cpu-profile.mjs), BENCH_HEAP_PROF=promoted|all a
    // sampling heap profile (bench/lib/heap-profile.mjs), BENCH_GC_STATS=1 logs garbage
    // collections every 10 s, BENCH_GC_TRACE=1 each one (bench/lib/gc-trace.mjs). They slow the
    // services: such runs' figures are not comparable.
    const diagnostics = ["BENCH_CPU_PROF", "BENCH_GC_STATS", "BENCH_GC_TRACE", "BENCH_HEAP_PROF"];
    if (diagnostics.some((k) => process.env[k])) {
      if (process.env.BENCH_CPU_PROF) env.BENCH_CPU_PROF_DIR = join(runDir, "cpuprof");
      if (process.env.BENCH_HEAP_PROF) {
        if (!["promoted", "all"].includes(process.env.BENCH_HEAP_PROF)) {
          throw new Error(`BENCH_HEAP_PROF must be promoted or all, not ${process.env.BENCH_HEAP_PROF}`);
        }
        env.BENCH_HEAP_PROF_DIR = join(runDir, "heapprof");
        env.BENCH_HEAP_PROF = process.env.BENCH_HEAP_PROF;
      }
      if (process.env.BENCH_GC_STATS) env.BENCH_GC_STATS = "1";
      if (process.env.BENCH_GC_TRACE) env.BENCH_GC_TRACE = "1";
      const preload = join(root, "bench", "lib", "diagnostics-preload.mjs");
      env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --import=${preload}`.trim();
      commands.push(`# diagnostics: NODE_OPTIONS='${env.NODE_OPTIONS}' for every service`);
    }
    for (const s of Object.values(servers)) commands.push(s.argv.join(" "));
    // Each service's gRPC port and its admin port (+1000), and the gateway's.
    const ports = [...Object.values(SERVICES).flatMap((p) => [p, p + 1000]), GATEWAY_PORT];
    await waitPortsFree(ports, { timeoutMs: Number(process.env.BENCH_PORT_WAIT_MS ?? 60_000), log });
    const what = describeMesh(spec);
    log(
      `starting the mesh${what ? ` (${what})` : ""} (log: bench/results/${runDir.split("/").pop()}/mesh.log)`,
    );
    appendFileSync(meshLog, `--- mesh ${what || "default"}\n`);
    // BENCH_DIST: another build of the services (e.g. one without a change, to compare).
    const dist = process.env.BENCH_DIST ?? "dist";
    if (dist !== "dist") commands.push(`# services from ${dist} (BENCH_DIST)`);
    mesh = createMesh({ root, replicas: 1, env, dist, log: (l) => appendFileSync(meshLog, `${l}\n`) });
    await mesh.start();
  } catch (err) {
    await mesh?.stop();
    await stopServers();
    throw err;
  }
  // Process ids of what the runner started ("auth#0" → auth), for CPU per call.
  const pids = Object.fromEntries(
    mesh.children
      .filter((c) => !c.name.includes("#") || c.name.endsWith("#0"))
      .map((c) => [c.name.split("#")[0], c.child.pid]),
  );
  for (const name of spec.stop ?? []) {
    const c = mesh.children.find((x) => x.name === `${name}#0`);
    if (!c) throw new Error(`bench.mesh.stop: no service ${name}`);
    c.child.kill("SIGTERM");
    await new Promise((r) => (c.exited ? r() : c.child.once("exit", r)));
    delete pids[name];
  }
  for (const [k, s] of Object.entries(servers)) pids[k] = s.pid;
  return {
    pids,
    env,
    servers,
    commands,
    stop: async () => {
      await mesh.stop();
      await stopServers();
    },
  };
}
