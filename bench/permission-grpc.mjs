// Check and CheckBatch over gRPC against the health baseline (same replica, same ghz
// settings, interleaved), and propagation between replicas: the time from a write's answer on
// replica A until replica B allows the new grant (Check polled back to back, no min_revision).
//   node bench/permission-grpc.mjs [--duration 15s] [--samples 500]
// Starts auth and two permission replicas from dist/ against the dev database (filemesh) and a
// private redis-server; rate limits of the check class are lifted (one client drives it all).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { devSecrets, ensureDatabase } from "../scripts/lib/dev-env.mjs";
import {
  client,
  ensureBuilt,
  ghz,
  log,
  machine,
  percentiles,
  pool,
  resultsDir,
  root,
  round,
  stamp,
  startRedis,
  startService,
  unary,
  writeResults,
} from "./permission-lib.mjs";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string" },
    samples: { type: "string", default: "500" },
    rounds: { type: "string", default: "3" },
  },
});
const DB = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/filemesh";
const dir = resultsDir("grpc");
const scenario = (n) => JSON.parse(readFileSync(join(root, "bench", "scenarios", `${n}.json`), "utf8"));
const out = {
  machine: machine(),
  commands: [`node bench/permission-grpc.mjs ${process.argv.slice(2).join(" ")}`.trim()],
};

ensureBuilt(["auth", "permission"]);
await ensureDatabase(DB);
const redis = await startRedis();
const secrets = devSecrets(root);
const lifted = ["login", "register", "check", "read", "write"]
  .map((c) => `${c}=1000000/1s:1000000`) // the highest RATE_LIMITS accepts
  .join(",");
const common = { DATABASE_URL: DB, REDIS_URL: redis.url, ...secrets, RATE_LIMITS: lifted, LOG_LEVEL: "warn" };
const procs = [];
try {
  const auth = await startService("auth", common);
  procs.push(auth);
  const env = { ...common, AUTH_ADDRS: auth.addr };
  // Replica B runs without the `check` rate class: the same Check there shows what the
  // per-call Redis round trip of the rate limiter costs.
  const noCheckLimit = lifted
    .split(",")
    .filter((l) => !l.startsWith("check="))
    .join(",");
  const p0 = await startService("permission", env);
  const p1 = await startService("permission", { ...env, RATE_LIMITS: noCheckLimit });
  procs.push(p0, p1);
  const seeded = await seed(auth.addr, p0.addr);
  const run = async (name, config) => {
    log(`${name}: ${config.call}, concurrency ${config.concurrency}, ${config.duration}`);
    const r = await ghz(config, dir, name, name.startsWith("checkAnonymous") ? ["Unauthenticated"] : ["OK"]);
    log(`${name}: ${r.rps} rps, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`);
    out.commands.push(r.command);
    return r;
  };
  const seconds = (d) => Number(/^(\d+)s$/.exec(d)?.[1] ?? 15);
  const settle = (name, extra) => {
    const { bench, ...config } = scenario(name);
    return { bench, config: { ...config, ...extra, host: p0.addr, protoset: join(root, config.protoset) } };
  };
  const check = settle("check", { metadata: seeded.auth, data: seeded.checks });
  const batch = settle("check-batch", { metadata: seeded.auth, data: seeded.batch });
  if (args.duration) for (const s of [check, batch]) s.config.duration = args.duration;
  const { protoset: _p, metadata: _m, data: _d, ...same } = check.config;
  const health = {
    ...same,
    call: "grpc.health.v1.Health/Check",
    proto: join(root, "node_modules/grpc-health-check/proto/health/v1/health.proto"),
    data: { service: "" },
  };
  for (const c of [health, check.config, batch.config]) await ghz({ ...c, duration: "2s" }, dir, "warmup");
  // Interleaved segments, so drift on a shared machine hits every call alike.
  const rounds = Number(args.rounds);
  const seg = (c) => ({ ...c, duration: `${Math.max(1, Math.round(seconds(c.duration) / rounds))}s` });
  const kinds = {
    health: seg(health),
    check: seg(check.config),
    checkNoLimiter: seg({ ...check.config, host: p1.addr }),
    // No token: the kit's call path (tracing, metrics, logging, status details) without
    // authentication, answered UNAUTHENTICATED; sits between health and Check.
    checkAnonymous: seg({ ...check.config, metadata: {} }),
    batch: seg(batch.config),
  };
  const segments = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (let r = 1; r <= rounds; r++) {
    for (const [k, c] of Object.entries(kinds)) segments[k].push(await run(`${k}-${r}`, c));
  }
  for (const k of Object.keys(kinds)) out[k] = pool(segments[k]);
  out.batch.checksPerSecond = Math.round(out.batch.rps * (batch.bench.batch ?? 100));
  out.propagation = await propagation(p0.addr, p1.addr, seeded, Number(args.samples));
} catch (err) {
  out.error = err.message;
  console.error(`bench: ${err.message}`);
} finally {
  for (const p of procs.reverse()) await p.stop();
  await redis.stop();
}
if (out.error) {
  writeResults(dir, out, `failed: ${out.error}`);
  process.exit(1);
}
writeResults(dir, out, report(out));

/** A user, a folder chain with a grant at the top (allowed below) and one without (denied). */
async function seed(authAddr, permAddr) {
  const a = client("auth", authAddr);
  const email = `bench-check-${stamp.toLowerCase()}@bench.filemesh.example`;
  const password = "bench-check-password-5d1e";
  const { user } = await unary(a, "register", { email, password, display_name: "bench check" });
  const { access_token: accessToken } = await unary(a, "login", { email, password });
  a.close();
  const me = `user:${user.id}`;
  const p = client("permission", permAddr);
  const file = (tree, depth) => `file:bench-${stamp.toLowerCase()}-${tree}-${depth}`;
  const updates = [];
  const touch = (object, relation, subject) =>
    updates.push({ operation: "RELATION_OPERATION_TOUCH", relation: { object, relation, subject } });
  for (const tree of ["shared", "other"]) {
    for (let d = 1; d < 8; d++) touch(file(tree, d), "parent", file(tree, d - 1));
  }
  touch(file("shared", 0), "viewer", me);
  touch(file("other", 0), "owner", `user:someone-else-${stamp.toLowerCase()}`);
  const internal = { "x-filemesh-service": "file", "x-filemesh-internal-token": secrets.INTERNAL_TOKEN };
  const { revision } = await unary(p, "writeRelations", { updates, request_id: "" }, internal);
  p.close();
  const perms = ["read", "write", "share", "delete"];
  const checks = [];
  for (let d = 0; d < 8; d++)
    for (const tree of ["shared", "other"]) checks.push({ resource: file(tree, d), permission: "read" });
  const items = Array.from({ length: 100 }, (_, i) => ({
    resource: file(i % 2 ? "shared" : "other", i % 8),
    permission: perms[i % 4],
  }));
  return {
    auth: { authorization: `Bearer ${accessToken}` },
    checks,
    batch: { items },
    me,
    revision,
    internal,
    file,
  };
}

async function propagation(addrA, addrB, s, samples) {
  const a = client("permission", addrA);
  const b = client("permission", addrB);
  const write = [];
  const visible = [];
  const checkRtt = [];
  let firstPoll = 0;
  for (let k = 0; k < samples; k++) {
    const f = `file:bench-prop-${stamp.toLowerCase()}-${k}`;
    const t0 = performance.now();
    const upd = {
      operation: "RELATION_OPERATION_TOUCH",
      relation: { object: f, relation: "viewer", subject: s.me },
    };
    await unary(a, "writeRelations", { updates: [upd], request_id: "" }, s.internal);
    const t1 = performance.now();
    for (let polls = 1; ; polls++) {
      const c0 = performance.now();
      const r = await unary(b, "check", { resource: f, permission: "read" }, s.auth);
      checkRtt.push(performance.now() - c0);
      if (r.allowed) {
        if (polls === 1) firstPoll++;
        break;
      }
    }
    write.push(t1 - t0);
    visible.push(performance.now() - t1);
  }
  a.close();
  b.close();
  return {
    samples,
    writeMs: percentiles(write),
    visibleAfterWriteAnswerMs: percentiles(visible),
    checkRoundTripMs: percentiles(checkRtt),
    visibleAtFirstCheck: `${round((100 * firstPoll) / samples, 1)} %`,
  };
}

function report(o) {
  const base = o.health.rps;
  const hp99 = o.health.latencyMs.p99;
  const row = (name, r) =>
    `| ${name} | ${r.rps} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${JSON.stringify(r.statusCodes)} |`;
  const p = o.propagation;
  return [
    `# permission over gRPC (${new Date().toISOString()})`,
    "",
    `machine: ${o.machine.cores} cores, node ${o.machine.node}, load ${o.machine.loadAverage}`,
    "",
    "| call | rps | p50 ms | p99 ms | statuses |",
    "|---|---|---|---|---|",
    row("health", o.health),
    row("Check", o.check),
    row("Check, no rate limiter (replica B)", o.checkNoLimiter),
    row("Check without a token (UNAUTHENTICATED)", o.checkAnonymous),
    row("CheckBatch ×100", o.batch),
    "",
    `Per round (rps): health ${o.health.segments.map((x) => x.rps).join(", ")}; Check ${o.check.segments.map((x) => x.rps).join(", ")}; no limiter ${o.checkNoLimiter.segments.map((x) => x.rps).join(", ")}; batch ${o.batch.segments.map((x) => x.rps).join(", ")}.`,
    "",
    `Check / health rps: ${round(o.check.rps / base, 2)} (target ≥ 0.8); Check p99 − health p99: ${round(o.check.latencyMs.p99 - hp99, 2)} ms (target ≤ 1 ms).`,
    `CheckBatch: ${o.batch.checksPerSecond} checks/s.`,
    "",
    `Propagation (${p.samples} grants on replica A, Check polled on replica B): visible ${p.visibleAfterWriteAnswerMs.p50} ms p50, ${p.visibleAfterWriteAnswerMs.p99} ms p99 after the write's answer (${p.visibleAtFirstCheck} at the first Check; one Check round trip p50 ${p.checkRoundTripMs.p50} ms); the write itself p50 ${p.writeMs.p50} ms, p99 ${p.writeMs.p99} ms.`,
    "",
    "Commands:",
    ...o.commands.map((c) => `    ${c}`),
  ].join("\n");
}
