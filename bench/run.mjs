// Bench runner: `npm run bench -- [scenario…] [--target host] [--duration 15s]`.
// Installs ghz if missing, starts the mesh (or uses a running one), seeds data, runs each
// bench/scenarios/<name>.json with ghz plus its baseline, and writes bench/results/<stamp>.{json,md}.
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkHealth } from "../scripts/lib/health.mjs";
import { SERVICES } from "../scripts/lib/mesh.mjs";
import { describeMesh, meshKey, meshSpec, startBenchMesh } from "./lib/bench-mesh.mjs";
import { stopChildren } from "./lib/exec.mjs";
import { ensureGhz } from "./lib/ghz.mjs";
import { loadAverage, machineFacts } from "./lib/machine.mjs";
import { writeReport } from "./lib/report.mjs";
import { runScenario } from "./lib/run-scenario.mjs";
import { listScenarios, loadScenario } from "./lib/scenarios.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = join(root, "bench");
const log = (msg) => console.log(`bench: ${msg}`);

const USAGE = `usage: node bench/run.mjs [scenario…] [--target HOST] [--duration 15s] [--rounds N]
  scenarios: bench/scenarios/*.json (default: all); see bench/README.md`;

/** --rounds: a whole number from 1 to 100, or undefined (each scenario's own). */
function roundsOption(raw) {
  if (raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    console.error(`bench: --rounds must be a whole number from 1 to 100, not "${raw}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

function parseOptions() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        target: { type: "string", default: process.env.BENCH_TARGET ?? "" },
        duration: { type: "string", default: process.env.BENCH_DURATION ?? "" },
        // Rounds of a scenario with a baseline (its own `bench.rounds`, else 3): the duration is
        // split into that many segments, each between baseline segments of the same length.
        rounds: { type: "string", default: process.env.BENCH_ROUNDS ?? "" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    console.error(`bench: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
}

function loadScenarios(dir, names) {
  try {
    // Helpers (baselines and loads of other scenarios) run only when named.
    if (names.length) return names.map((n) => loadScenario(dir, n));
    return listScenarios(dir)
      .map((n) => loadScenario(dir, n))
      .filter((s) => !s.bench.helper);
  } catch (err) {
    console.error(`bench: ${err.message}\nbench: scenarios here: ${listScenarios(dir).join(", ")}`);
    process.exit(2);
  }
}

const { values: opts, positionals } = parseOptions();
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const scenariosDir = join(benchDir, "scenarios");
const scenarios = loadScenarios(scenariosDir, positionals);

// What the service runs with; the started mesh gets exactly this, the bcrypt baseline copies it.
const serviceEnv = {
  BCRYPT_COST: process.env.BCRYPT_COST ?? "10",
  HASH_CONCURRENCY: process.env.HASH_CONCURRENCY ?? process.env.UV_THREADPOOL_SIZE ?? "4",
  HASH_QUEUE: process.env.HASH_QUEUE ?? "64",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
};
// Only for the mesh the runner starts: all bench calls come from one client address, so the
// per-client limits of the classes it drives are lifted (the limiter still runs, and costs
// what it costs); sessions are short-lived so bench logins do not pile up in Redis.
// Every rate class of the contracts (gen/methods.json) gets a limit no bench reaches, so the
// limiter runs (one Redis call per limited call, as in production) but never refuses.
const rateClasses = [
  ...new Set(
    JSON.parse(readFileSync(join(root, "gen", "methods.json"), "utf8"))
      .map((m) => m.policy?.rateClass)
      .filter(Boolean),
  ),
].sort();
const meshEnv = {
  ...serviceEnv,
  RATE_LIMITS: process.env.RATE_LIMITS ?? rateClasses.map((c) => `${c}=1000000/1s:1000000`).join(","),
  SESSION_IDLE_TIMEOUT: "15m",
  SESSION_ABSOLUTE_TIMEOUT: "1h",
};
const started = new Date();
const stamp = started.toISOString().replace(/[:.]/g, "-");
const resultsDir = join(benchDir, "results");
const runDir = join(resultsDir, stamp);
mkdirSync(runDir, { recursive: true });
const rel = (p) => relative(root, p);
const shell = (argv) =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");

const run = {
  startedAt: started.toISOString(),
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

const ghz = ensureGhz(root);
run.ghz = { version: ghz.version };
// Scenarios with the same needs of the mesh (bench.mesh) run together, in order of first
// appearance; the runner restarts the mesh between such groups.
const groups = new Map();
for (const s of scenarios) {
  const spec = meshSpec(s.bench, { cores: run.machine.cores });
  const key = meshKey(spec);
  if (!groups.has(key)) groups.set(key, { spec, scenarios: [] });
  groups.get(key).scenarios.push(s);
}
let mesh = null;
const stop = async () => {
  const m = mesh;
  mesh = null;
  await m?.stop();
};
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, async () => {
    interrupted = true;
    log(`${sig}, stopping`);
    stopChildren();
    await stop();
    process.exit(130);
  });
}

let failed = false;
try {
  if (opts.target && (await checkHealth(`${opts.target}:${SERVICES.auth}`)) !== "SERVING") {
    throw new Error(`--target ${opts.target}: auth-service on port ${SERVICES.auth} is not SERVING`);
  }
  const ctx = {
    pids: {},
    root,
    runDir,
    scenariosDir,
    rel,
    shell,
    ghzBin: ghz.bin,
    host: run.target.host,
    duration: opts.duration,
    rounds: roundsOption(opts.rounds),
    serviceEnv,
    cores: run.machine.cores,
    log,
    commands: run.commands,
  };
  for (const { spec, scenarios: group } of groups.values()) {
    const what = describeMesh(spec);
    if (opts.target && (spec.private || spec.stop)) {
      throw new Error(`${group.map((s) => s.name).join(", ")}: need the mesh the runner starts (${what})`);
    }
    if (!opts.target) {
      await stop();
      mesh = await startBenchMesh({ root, spec, env: meshEnv, runDir, log });
      run.commands.push(`# mesh: ${what || "default"}`, ...mesh.commands.map((c) => `#   ${c}`));
    }
    // The mesh's processes, its settings and a fresh token user (a new Redis has no sessions).
    Object.assign(ctx, {
      pids: mesh?.pids ?? {},
      meshEnv: mesh?.env,
      tokenPromise: undefined,
      graphPromise: undefined,
    });
    for (const scenario of group) {
      const entry = await runScenario(scenario, ctx);
      run.scenarios.push(what ? { ...entry, mesh: what } : entry);
    }
  }
} catch (err) {
  failed = true;
  if (interrupted) await new Promise(() => {}); // the signal handler exits
  console.error(`bench: ${err.message}`);
  if (!opts.target) console.error(`bench: mesh log in ${rel(join(runDir, "mesh.log"))}`);
} finally {
  await stop();
}
run.finishedAt = new Date().toISOString();
run.loadAverageAtEnd = loadAverage();
const files = writeReport(resultsDir, stamp, run);
log(`wrote ${rel(files.json)} and ${rel(files.md)}`);
console.log(`\n${readFileSync(files.md, "utf8")}`);
process.exit(failed ? 1 : 0);
