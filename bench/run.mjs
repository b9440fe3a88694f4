// Bench runner: `npm run bench -- [scenario…] [--target host] [--duration 15s]`.
// Installs ghz if missing, starts the mesh (or uses a running one), seeds data, runs each
// bench/scenarios/<name>.json with ghz plus its baseline, and writes bench/results/<stamp>.{json,md}.
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkHealth } from "../scripts/lib/health.mjs";
import { createMesh, GATEWAY_PORT, SERVICES } from "../scripts/lib/mesh.mjs";
import { compareToBcrypt, durationSeconds, runBcryptLoop } from "./lib/baseline.mjs";
import { ensureGhz, runGhz, summarize } from "./lib/ghz.mjs";
import { loadAverage, machineFacts } from "./lib/machine.mjs";
import { waitPortsFree } from "./lib/ports.mjs";
import { writeReport } from "./lib/report.mjs";
import { listScenarios, loadScenario, resolveScenario } from "./lib/scenarios.mjs";
import { seedUsers } from "./lib/seed.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = join(root, "bench");
const log = (msg) => console.log(`bench: ${msg}`);

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    target: { type: "string", default: process.env.BENCH_TARGET ?? "" },
    duration: { type: "string", default: process.env.BENCH_DURATION ?? "" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  console.log(readFileSync(join(benchDir, "README.md"), "utf8"));
  process.exit(0);
}

// What the service runs with; the started mesh gets exactly this, the bcrypt baseline copies it.
const serviceEnv = {
  BCRYPT_COST: process.env.BCRYPT_COST ?? "10",
  HASH_CONCURRENCY: process.env.HASH_CONCURRENCY ?? process.env.UV_THREADPOOL_SIZE ?? "4",
  HASH_QUEUE: process.env.HASH_QUEUE ?? "64",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
};
// Short session lifetimes only so bench logins do not pile up in the dev Redis for a week.
const meshEnv = { ...serviceEnv, SESSION_IDLE_TIMEOUT: "15m", SESSION_ABSOLUTE_TIMEOUT: "1h" };
const names = positionals.length ? positionals : listScenarios(join(benchDir, "scenarios"));
const scenarios = names.map((n) => loadScenario(join(benchDir, "scenarios"), n));
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const resultsDir = join(benchDir, "results");
const runDir = join(resultsDir, stamp);
mkdirSync(runDir, { recursive: true });
const rel = (p) => relative(root, p);
const shell = (argv) =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");

const run = {
  startedAt: new Date().toISOString(),
  machine: machineFacts(root),
  target: {
    mode: opts.target ? "running" : "started",
    host: opts.target || "127.0.0.1",
    env: opts.target ? serviceEnv : meshEnv,
    ...(opts.target ? { envAssumed: true } : {}),
  },
  ghz: null,
  commands: [
    `cd ${root}`,
    shell([
      ...Object.entries(serviceEnv).map(([k, v]) => `${k}=${v}`),
      "node",
      "bench/run.mjs",
      ...process.argv.slice(2),
    ]),
  ],
  scenarios: [],
  loadAverageAtEnd: null,
};

const ghz = ensureGhz(root, log);
run.ghz = { version: ghz.version };
const meshLog = join(runDir, "mesh.log");
const mesh = opts.target
  ? null
  : createMesh({ root, replicas: 1, env: meshEnv, log: (l) => appendFileSync(meshLog, `${l}\n`) });
const stop = async () => mesh && (await mesh.stop());
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, async () => {
    log(`${sig}, stopping the mesh`);
    await stop();
    process.exit(130);
  });
}

let failed = false;
try {
  if (mesh) {
    // Each service's gRPC port and its admin port (+1000), and the gateway's.
    const ports = [...Object.values(SERVICES).flatMap((p) => [p, p + 1000]), GATEWAY_PORT];
    await waitPortsFree(ports, { timeoutMs: Number(process.env.BENCH_PORT_WAIT_MS ?? 60_000), log });
    log(`starting the mesh (log: ${rel(meshLog)})`);
    await mesh.start();
  } else if ((await checkHealth(`${opts.target}:${SERVICES.auth}`)) !== "SERVING") {
    throw new Error(`--target ${opts.target}: auth-service on port ${SERVICES.auth} is not SERVING`);
  }
  for (const scenario of scenarios) run.scenarios.push(await runScenario(scenario));
} catch (err) {
  failed = true;
  console.error(`bench: ${err.message}`);
  if (mesh) console.error(`bench: mesh log in ${rel(meshLog)}`);
} finally {
  await stop();
}
run.finishedAt = new Date().toISOString();
run.loadAverageAtEnd = loadAverage();
const files = writeReport(resultsDir, stamp, run);
log(`wrote ${rel(files.json)} and ${rel(files.md)}`);
console.log(`\n${readFileSync(files.md, "utf8")}`);
process.exit(failed ? 1 : 0);

async function runScenario(scenario) {
  const { name, bench } = scenario;
  const port = SERVICES[bench.service];
  if (!port) throw new Error(`scenario ${name}: unknown service "${bench.service}"`);
  const host = `${run.target.host}:${port}`;
  let data;
  if (bench.seed?.users) {
    const seeded = await seedUsers({ root, addr: host, count: bench.seed.users });
    log(`${name}: seeded ${bench.seed.users} users (${seeded.created} new)`);
    data = seeded.users;
  }
  const { path, config } = resolveScenario({ scenario, root, runDir, host, data, duration: opts.duration });
  const ghzRun = (extra) => runGhz({ bin: rel(ghz.bin), root, config: rel(path), extra });
  if (bench.warmup) {
    log(`${name}: warm-up ${bench.warmup}`);
    const warm = await ghzRun(["--duration", bench.warmup]);
    run.commands.push(`${shell(warm.command)}   # warm-up, not recorded`);
  }
  if (bench.baseline && bench.baseline !== "bcrypt") {
    throw new Error(`scenario ${name}: unknown baseline "${bench.baseline}"`);
  }
  const raw = [];
  const bcrypt = async (when) => {
    log(`${name}: raw bcrypt baseline (${when})`);
    const { result, command } = await runBcryptLoop({
      root,
      cost: serviceEnv.BCRYPT_COST,
      concurrency: serviceEnv.HASH_CONCURRENCY,
      seconds: durationSeconds(config.duration),
    });
    run.commands.push(shell(command));
    log(`${name}: raw bcrypt ${result.rps} rps, one hash p50 ${result.single.latencyMs.p50} ms`);
    raw.push({ when, ...result });
  };
  if (bench.baseline) await bcrypt("before");
  log(`${name}: ${config.call} for ${config.duration}, concurrency ${config.concurrency}`);
  const measured = await ghzRun([]);
  run.commands.push(shell(measured.command));
  const result = summarize(measured.report);
  log(`${name}: ${result.rps} rps, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`);
  if (bench.baseline) await bcrypt("after");
  const entry = { name, call: config.call, host, concurrency: config.concurrency, config: rel(path), result };
  if (!raw.length) return entry;
  const compared = compareToBcrypt(result, raw);
  compared.baseline.cores = run.machine.cores;
  log(`${name}: ${compared.ratio.rps} × raw bcrypt rps; p50 ${compared.ratio.p50VsSingleHash} × one hash`);
  return { ...entry, ...compared };
}
