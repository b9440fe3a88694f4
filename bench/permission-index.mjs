// The 1M-tuple index figures of issue 5: seeds ~1M tuples (100K users, 10K groups nested 3
// deep, files up to depth 8) through WriteRelations into a fresh database, then measures the
// index's heap, cold start from Postgres alone and from the Redis snapshot (the service's own
// and in this process), and in-process check time.
//   node --expose-gc --max-old-space-size=8192 bench/permission-index.mjs [--users 100000]
// Uses Postgres on 127.0.0.1 (database filemesh_bench_acl, dropped and recreated) and a private
// redis-server; NATS is pointed nowhere so the seeded grants' events stay in the outbox.
import { parseArgs } from "node:util";
import pg from "pg";
import { devSecrets } from "../scripts/lib/dev-env.mjs";
import { DEFAULTS, graph } from "./permission-graph.mjs";
import { checkFigures, mapGetNs } from "./permission-index-checks.mjs";
import {
  client,
  ensureBuilt,
  log,
  machine,
  permissionModules,
  resultsDir,
  root,
  round,
  startRedis,
  startService,
  unary,
  writeResults,
} from "./permission-lib.mjs";

if (typeof global.gc !== "function") {
  console.error("run with: node --expose-gc --max-old-space-size=8192 bench/permission-index.mjs");
  process.exit(2);
}
const { values: args } = parseArgs({ options: { users: { type: "string" } } });
const shape = {
  ...DEFAULTS,
  ...(args.users ? { users: Number(args.users), groups: Number(args.users) / 10 } : {}),
};
const DB = "postgres://postgres@127.0.0.1:5432/filemesh_bench_acl";
const dir = resultsDir("index");
const out = {
  machine: machine(),
  shape,
  commands: [
    `node --expose-gc --max-old-space-size=8192 bench/permission-index.mjs${args.users ? ` --users ${args.users}` : ""}`,
  ],
};

ensureBuilt(["permission"]);
await recreateDatabase(DB);
const redis = await startRedis();
const { INTERNAL_TOKEN } = devSecrets(root);
const env = {
  DATABASE_URL: DB,
  REDIS_URL: redis.url,
  NATS_URL: "nats://127.0.0.1:1",
  AUTH_ADDRS: "127.0.0.1:1",
  INTERNAL_TOKEN,
  LOG_LEVEL: "info",
  ACL_SNAPSHOT_INTERVAL: "1h",
};
const logFile = `${dir}/permission.log`;
let svc = await startService("permission", env, { logFile });
try {
  out.seed = await seed(svc.addr);
  log(`seeded ${out.seed.tuples} tuples in ${out.seed.seconds} s`);

  // Service cold start from Postgres alone (no snapshot), then from the snapshot it writes.
  await svc.stop();
  redis.cli("FLUSHALL");
  svc = await startService("permission", env, { logFile, nodeArgs: ["--max-old-space-size=8192"] });
  out.serviceFromPostgres = { spawnToServingMs: svc.readyMs, ...loadedLine(svc.lines) };
  await until(() => svc.lines.some((l) => l.includes("acl snapshot written")), 600_000);
  out.snapshotWrite = snapshotLine(svc.lines);
  out.snapshotBytes = Number(
    redis.cli("MEMORY", "USAGE", JSON.parse(redis.cli("GET", snapshotKey())).list, "SAMPLES", "0"),
  );
  out.serviceHeapMb = await heapOf(svc);
  await svc.stop();
  svc = await startService("permission", env, { logFile, nodeArgs: ["--max-old-space-size=8192"] });
  out.serviceFromSnapshot = { spawnToServingMs: svc.readyMs, ...loadedLine(svc.lines) };
  await svc.stop();

  // In this process: heap of one index, both load paths, and check time.
  const m = await permissionModules(dir);
  const quiet = m.createLogger({ service: "bench", level: "warn" });
  const pool = m.createPool(DB, 4, quiet, "bench");
  const rc = m.createRedis(redis.url, quiet, "bench");
  global.gc();
  const before = process.memoryUsage().heapUsed;
  const fromPg = await m.coldLoad({ pool, redis: rc, prefix: "fm:acl", log: quiet, useSnapshot: false });
  global.gc();
  out.inProcess = {
    tuples: fromPg.index.size,
    heapMb: round((process.memoryUsage().heapUsed - before) / 2 ** 20, 1),
    fromPostgresMs: fromPg.ms,
  };
  const fromSnap = await m.coldLoad({ pool, redis: rc, prefix: "fm:acl", log: quiet, useSnapshot: true });
  Object.assign(out.inProcess, { fromSnapshotMs: fromSnap.ms, snapshotSource: fromSnap.source });
  out.checks = checkFigures(fromPg.index, shape);
  out.mapGetNs = mapGetNs().meanNs;
  await pool.end();
  rc.disconnect();
} finally {
  await svc.stop();
  await redis.stop();
}
writeResults(dir, out, report(out));

function snapshotKey() {
  return redis.cli("KEYS", "fm:acl:*:snapshot").split("\n")[0];
}

async function seed(addr) {
  const c = client("permission", addr);
  const started = performance.now();
  let batch = [];
  let caller = "";
  let tuples = 0;
  const lat = [];
  const flush = async () => {
    const t0 = performance.now();
    await unary(
      c,
      "writeRelations",
      { updates: batch, request_id: "" },
      { "x-filemesh-service": caller, "x-filemesh-internal-token": INTERNAL_TOKEN },
    );
    lat.push(performance.now() - t0);
    tuples += batch.length;
    batch = [];
    if (lat.length % 100 === 0) log(`  ${tuples} tuples`);
  };
  for (const [object, relation, subject, expireAt] of graph(shape)) {
    const who = object.startsWith("group:") ? "user" : "file";
    if (batch.length && (batch.length === 1000 || who !== caller)) await flush();
    caller = who;
    const expireTime = expireAt ? { seconds: String(Math.floor(expireAt / 1000)), nanos: 0 } : undefined;
    batch.push({
      operation: "RELATION_OPERATION_TOUCH",
      relation: { object, relation, subject, ...(expireTime ? { expire_time: expireTime } : {}) },
    });
  }
  if (batch.length) await flush();
  c.close();
  const seconds = round((performance.now() - started) / 1000, 1);
  lat.sort((a, b) => a - b);
  return {
    tuples,
    calls: lat.length,
    seconds,
    tuplesPerSecond: Math.round(tuples / seconds),
    callP50Ms: round(lat[lat.length >> 1], 1),
    callP99Ms: round(lat[Math.floor(lat.length * 0.99)], 1),
  };
}

function parsed(lines) {
  return lines.flatMap((x) => {
    try {
      return [JSON.parse(x)];
    } catch {
      return [];
    }
  });
}
function loadedLine(lines) {
  const l = parsed(lines).find((x) => x.msg === "acl index loaded");
  return { indexLoadMs: l?.ms, source: l?.source, tuples: l?.tuples };
}
function snapshotLine(lines) {
  const l = parsed(lines).find((x) => x.msg === "acl snapshot written");
  return { ms: l?.ms, tuples: l?.tuples };
}
async function heapOf(s) {
  const text = await (await fetch(`http://127.0.0.1:${s.adminPort}/metrics`)).text();
  const v = (name) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
  return {
    heapUsed: round(v("nodejs_heap_size_used_bytes"), 1),
    rss: round(v("process_resident_memory_bytes"), 1),
  };
}
async function until(cond, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
async function recreateDatabase(url) {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = "/postgres";
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await c.query(`CREATE DATABASE "${name}"`);
  await c.end();
}

function report(o) {
  const c = o.checks;
  return [
    `# permission index, ${o.inProcess.tuples} tuples (${new Date().toISOString()})`,
    "",
    `machine: ${o.machine.cores} cores, node ${o.machine.node}, load ${o.machine.loadAverage}`,
    `command: \`${o.commands[0]}\``,
    "",
    "| figure | value |",
    "|---|---|",
    `| seed through WriteRelations (1,000 per call) | ${o.seed.tuples} tuples in ${o.seed.seconds} s (${o.seed.tuplesPerSecond}/s; call p50 ${o.seed.callP50Ms} ms, p99 ${o.seed.callP99Ms} ms) |`,
    `| index heap (in process, after GC) | ${o.inProcess.heapMb} MB |`,
    `| service heap / RSS after a cold start | ${o.serviceHeapMb.heapUsed} MB / ${o.serviceHeapMb.rss} MB |`,
    `| cold start from Postgres alone (service: index load / spawn → SERVING) | ${o.serviceFromPostgres.indexLoadMs} ms / ${o.serviceFromPostgres.spawnToServingMs} ms |`,
    `| cold start from the Redis snapshot (service) | ${o.serviceFromSnapshot.indexLoadMs} ms / ${o.serviceFromSnapshot.spawnToServingMs} ms (source ${o.serviceFromSnapshot.source}) |`,
    `| in process: load from Postgres / from snapshot | ${o.inProcess.fromPostgresMs} ms / ${o.inProcess.fromSnapshotMs} ms |`,
    `| snapshot write (service, live index) / size in Redis | ${o.snapshotWrite.ms} ms / ${round(o.snapshotBytes / 2 ** 20, 1)} MB |`,
    ...c.map(
      (x) =>
        `| check, ${x.name} (${x.allowedShare} allowed) | mean ${x.meanNs} ns; per call p50 ${x.p50Ns} ns, p99 ${x.p99Ns} ns |`,
    ),
    `| calibration: one Map.get on 500K UUID-shaped keys, same loop | mean ${o.mapGetNs} ns |`,
  ].join("\n");
}
