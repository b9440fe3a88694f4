// The mesh of the data-plane benches (bench/dataplane-download.mjs, bench/dataplane-upload.mjs):
// auth, user, permission and file from dist/ (or BENCH_DIST) on private ports (56051…) and
// database filemesh_dp_bench, fs driver on a temp directory, limits out of the way, and three Go
// gateways in front (58081–58083):
//   - grpc:  GATEWAY_DATA_PLANE=off — bytes in gRPC messages (before issue 15);
//   - proxy: the data plane — a ticket (unary call), bytes over plain HTTP to the file service's
//            /v1/data/{ticket};
//   - local: the data plane with GATEWAY_BLOB_DIR — downloads straight from disk (sendfile).
// Plus the closed-loop HTTP load the benches share, and CPU per call from /proc.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { devSecrets, ensureDatabase } from "../../scripts/lib/dev-env.mjs";
import { cpuMsOf } from "./proc-cpu.mjs";

const root = join(import.meta.dirname, "..", "..");
const BASE = 56051;
export const ports = { auth: BASE, user: BASE + 1, permission: BASE + 2, file: BASE + 3 };
export const gateways = { grpc: 58081, proxy: 58082, local: 58083 };

async function waitHttp(url, anyStatus = false) {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url);
      if (r.status < 500 || anyStatus) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

const listening = (port) =>
  new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });

/** The benches' options: --seconds, --connections, --rounds, --size, and `extra` ones. */
export function dataplaneArgs(extra = {}) {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "10" },
      connections: { type: "string", default: "64" },
      rounds: { type: "string", default: "2" },
      size: { type: "string", default: "65536" },
      // Which gateways to measure (comma-separated; default all): e.g. one path to profile.
      gateways: { type: "string", default: Object.keys(gateways).join(",") },
      ...extra,
    },
  });
  return values;
}

/**
 * One target per gateway in `names`: its origin, `request(i)`, `good(status, bytes)`, and the
 * processes whose CPU it costs (auth, permission, file, that gateway, Postgres).
 */
export const gatewayTargets = (mesh, names, request, good) =>
  Object.fromEntries(
    names.map((name) => [
      name,
      {
        origin: mesh.url(name),
        request,
        good,
        procs: ["auth", "permission", "file", `gateway-${name}`, "postgres"],
      },
    ]),
  );

/**
 * Starts the mesh and its gateways; resolves when every port answers. `extraGateways`: more
 * gateways of the same build, { name: { port, env } } (e.g. FILE_HTTP_ADDRS pointing elsewhere).
 */
export async function startDataplaneMesh({ extraGateways = {} } = {}) {
  // BENCH_DIST: another build's dist/ (an A/B against older code, as bench/run.mjs takes it).
  const dist = process.env.BENCH_DIST ? resolve(root, process.env.BENCH_DIST) : join(root, "dist");
  const blobDir = mkdtempSync(join(tmpdir(), "dp-bench-"));
  const db = "postgres://postgres@127.0.0.1:5432/filemesh_dp_bench";
  await ensureDatabase(db);
  const classes = ["login", "register", "lookup", "read", "write", "check", "upload", "download", "link"];
  const env = {
    ...process.env,
    ...devSecrets(root),
    DATABASE_URL: db,
    LOG_LEVEL: "warn",
    TRUST_FORWARDED_FOR: "true",
    BLOB_DRIVER: "fs",
    BLOB_DIR: blobDir,
    FILES_READY_ON_COMMIT: "true",
    RATE_LIMITS: classes.map((c) => `${c}=1000000/1s:1000000`).join(","),
    AUTH_ADDRS: `127.0.0.1:${ports.auth}`,
    USER_ADDRS: `127.0.0.1:${ports.user}`,
    PERMISSION_ADDRS: `127.0.0.1:${ports.permission}`,
    FILE_ADDRS: `127.0.0.1:${ports.file}`,
    PROCESSOR_ADDRS: "127.0.0.1:1",
    FILE_HTTP_ADDRS: `127.0.0.1:${ports.file + 2000}`,
  };
  const children = [];
  const spawnChild = (name, cmd, args, extra) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...env, ...extra },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr.on("data", (d) => process.env.DEBUG && process.stderr.write(`[${name}] ${d}`));
    children.push(child);
    return child;
  };
  // Every run stores thousands of bodies: the blob directory goes with the mesh (a full disk
  // takes Postgres down with it).
  const stop = () => {
    for (const c of children) c.kill("SIGTERM");
    rmSync(blobDir, { recursive: true, force: true });
  };
  process.on("exit", stop);
  process.on("SIGINT", () => process.exit(130));

  // "postgres": every Postgres process of the machine (proc-cpu.mjs postgresCpuMs; shared server).
  const pids = { postgres: "postgres" };
  for (const [s, port] of Object.entries(ports)) {
    // BENCH_CPU_PROF=1: a V8 CPU profile of each service, written when it exits, in
    // bench/results/dataplane-cpuprof/.
    const prof = process.env.BENCH_CPU_PROF
      ? [
          "--cpu-prof",
          `--cpu-prof-dir=${join(root, "bench", "results", "dataplane-cpuprof")}`,
          `--cpu-prof-name=${s}.cpuprofile`,
        ]
      : [];
    pids[s] = spawnChild(s, process.execPath, [...prof, join(dist, `${s}.js`)], {
      GRPC_PORT: String(port),
      ADMIN_PORT: String(port + 1000),
      FILE_HTTP_PORT: String(ports.file + 2000),
    }).pid;
  }
  const gwEnv = {
    grpc: { GATEWAY_DATA_PLANE: "off" },
    proxy: {},
    local: { GATEWAY_BLOB_DIR: blobDir },
  };
  await waitHttp(`http://127.0.0.1:${ports.file + 2000}/healthz`);
  // Every service's gRPC port too (the file service's HTTP listener can answer before it).
  for (const port of Object.values(ports)) {
    for (let i = 0; !(await listening(port)); i++) {
      if (i === 300) throw new Error(`127.0.0.1:${port} did not come up`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (process.env.BENCH_CPU_PROF)
    mkdirSync(join(root, "bench", "results", "dataplane-cpuprof"), { recursive: true });
  const all = {
    ...gateways,
    ...Object.fromEntries(Object.entries(extraGateways).map(([n, g]) => [n, g.port])),
  };
  for (const [name, g] of Object.entries(extraGateways)) gwEnv[name] = g.env;
  for (const [name, port] of Object.entries(all)) {
    pids[`gateway-${name}`] = spawnChild(`gw-${name}`, join(dist, "filemesh-gateway"), [], {
      GATEWAY_PORT: String(port),
      ...gwEnv[name],
      // BENCH_CPU_PROF=1: a Go CPU profile too (`go tool pprof -top dist/filemesh-gateway <file>`).
      ...(process.env.BENCH_CPU_PROF
        ? {
            GATEWAY_CPU_PROFILE: join(root, "bench", "results", "dataplane-cpuprof", `gateway-${name}.pprof`),
          }
        : {}),
    }).pid;
  }
  // /healthz is 503 here (no processor): any answer means listening.
  for (const port of Object.values(all)) await waitHttp(`http://127.0.0.1:${port}/healthz`, true);
  return { pids, blobDir, stop, url: (gateway) => `http://127.0.0.1:${all[gateway]}` };
}

/** Registers and logs in a bench user through `gw`; returns the Authorization header. */
export async function benchUser(gw, tag) {
  const email = `${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@bench.example`;
  const j = async (path, body) => {
    const r = await fetch(`${gw}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return r.json();
  };
  await j("/v1/auth:register", { email, password: "a long bench passphrase", displayName: "B" });
  const { accessToken } = await j("/v1/auth:login", { email, password: "a long bench passphrase" });
  if (!accessToken) throw new Error(`login failed for ${email}`);
  return { authorization: `Bearer ${accessToken}` };
}

/**
 * A closed loop of `connections` keep-alive connections for `seconds`: `request(i)` gives the
 * i-th request's { path, headers, method?, body? }; `good(status, bytes)` says whether its answer
 * counts. Resolves { ok, bad }.
 */
export function loop(origin, request, good, seconds, connections) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const u = new URL(origin);
  let ok = 0;
  let bad = 0;
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const r = request(n++);
      const req = http.request(
        {
          agent,
          host: u.hostname,
          port: u.port,
          path: r.path,
          method: r.method ?? "GET",
          headers: r.headers,
        },
        (res) => {
          let bytes = 0;
          res.on("data", (c) => {
            bytes += c.length;
          });
          res.on("end", () => {
            if (good(res.statusCode, bytes)) ok++;
            else bad++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        bad++;
        resolve();
      });
      req.end(r.body);
    });
  const worker = async () => {
    while (Date.now() < end) await one();
  };
  return Promise.all(Array.from({ length: connections }, worker)).then(() => {
    agent.destroy();
    return { ok, bad };
  });
}

/**
 * Runs each target's loop `rounds` times, interleaved, with the CPU its processes spent; prints
 * each round and a summary of rates as ratios to targets.baseline. `what` names a call ("download").
 */
export async function interleaved(targets, pids, { seconds, connections, rounds, what }) {
  const results = {};
  for (const t of Object.values(targets)) await loop(t.origin, t.request, t.good, 1, 8); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const [name, t] of Object.entries(targets)) {
      const before = Object.fromEntries(t.procs.map((p) => [p, cpuMsOf(pids[p])]));
      const r = await loop(t.origin, t.request, t.good, seconds, connections);
      const cpu = Object.fromEntries(t.procs.map((p) => [p, cpuMsOf(pids[p]) - before[p]]));
      const total = Object.values(cpu).reduce((a, b) => a + b, 0);
      results[name] = results[name] ?? [];
      results[name].push({ rps: r.ok / seconds, errors: r.bad, cpuMsPerCall: r.ok ? total / r.ok : 0, cpu });
      console.log(
        `${name.padEnd(8)} round ${round}: ${(r.ok / seconds).toFixed(0)} req/s, ${r.bad} errors, ` +
          `server CPU ${(r.ok ? total / r.ok : 0).toFixed(3)} ms/${what} ${JSON.stringify(cpu)}`,
      );
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const base = mean(results.baseline.map((r) => r.rps));
  console.log("\nsummary (mean of rounds; ratio = rps / baseline rps of the same run)");
  for (const [name, rs] of Object.entries(results)) {
    const rps = mean(rs.map((r) => r.rps));
    console.log(
      `${name.padEnd(8)} ${rps.toFixed(0).padStart(6)} req/s  ${(rps / base).toFixed(2)}×  ` +
        `CPU ${mean(rs.map((r) => r.cpuMsPerCall)).toFixed(3)} ms/${what} (services, gateway, Postgres), ` +
        `${rs.reduce((a, r) => a + r.errors, 0)} errors`,
    );
  }
  return results;
}
