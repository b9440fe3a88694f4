// Shared pieces of the permission benchmarks (bench/permission-*.mjs): processes (the built
// services, a private redis-server), a gRPC client from the descriptor image, ghz runs, the
// service's own modules bundled for in-process figures, and the results files.
import { execFile, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { credentials, loadPackageDefinition, Metadata } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { build } from "esbuild";
import { waitServing } from "../scripts/lib/health.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const stamp = new Date().toISOString().replace(/[:.]/g, "-");
export const log = (msg) => console.log(`bench: ${msg}`);

// Children this process started (services, redis-server): stopped on exit and on Ctrl-C.
const children = new Set();
const track = (child) => {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
};
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    log(`${sig}: stopping ${children.size} child process(es)`);
    process.exit(130);
  });
}
const run = promisify(execFile);

export async function freePort() {
  const srv = createServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  return port;
}

const newest = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .reduce((m, e) => Math.max(m, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs), 0);

/** Rebuilds dist/ (scripts/build.mjs) when a service source is newer than its bundle. */
export function ensureBuilt(services) {
  const stale = services.some((s) => {
    try {
      return (
        statSync(join(root, "dist", `${s}.js`)).mtimeMs <
        Math.max(newest(join(root, "services", s, "src")), newest(join(root, "services", "kit", "src")))
      );
    } catch {
      return true;
    }
  });
  if (stale)
    execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
}

/** A private redis-server (no persistence) on a free loopback port. */
export async function startRedis() {
  const port = await freePort();
  const child = track(
    spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync("redis-cli", ["-p", String(port), "ping"], { stdio: "ignore" });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    port,
    cli: (...args) => execFileSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).trim(),
    stop: async () => {
      child.kill("SIGTERM");
      if (child.exitCode === null) await once(child, "exit");
    },
  };
}

/** Starts dist/<name>.js on a free port; resolves once SERVING (with how long that took). */
export async function startService(name, env, { logFile, nodeArgs = [] } = {}) {
  const port = await freePort();
  const adminPort = await freePort();
  const started = performance.now();
  const child = track(
    spawn(process.execPath, [...nodeArgs, join(root, "dist", `${name}.js`)], {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        GRPC_PORT: String(port),
        ADMIN_PORT: String(adminPort),
        LOG_LEVEL: env.LOG_LEVEL ?? "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const lines = [];
  for (const s of [child.stdout, child.stderr])
    createInterface({ input: s }).on("line", (l) => lines.push(l));
  const addr = `127.0.0.1:${port}`;
  const ok = await waitServing(addr, { timeoutMs: 600_000, isAlive: () => child.exitCode === null });
  if (!ok) throw new Error(`${name} did not become SERVING:\n${lines.slice(-20).join("\n")}`);
  const readyMs = Math.round(performance.now() - started);
  return {
    addr,
    port,
    adminPort,
    readyMs,
    lines,
    child,
    stop: async () => {
      if (logFile) writeFileSync(logFile, `${lines.join("\n")}\n`, { flag: "a" });
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

let pkg;
/**
 * A client for `filemesh.<svc>.v1.<Svc>Service` from the descriptor image. Field names stay as
 * in the .proto (snake_case: `request_id`, `access_token`), enums are strings.
 */
export function client(svc, addr) {
  pkg ??= loadPackageDefinition(
    loadFileDescriptorSetFromBuffer(readFileSync(join(root, "gen", "filemesh.binpb")), {
      keepCase: false,
      longs: String,
      enums: String,
    }),
  );
  const Svc = pkg.filemesh[svc].v1[`${svc[0].toUpperCase()}${svc.slice(1)}Service`];
  return new Svc(addr, credentials.createInsecure(), { "grpc.max_receive_message_length": 64 << 20 });
}

export function unary(c, method, req, headers = {}, timeoutMs = 60_000) {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve, reject) =>
    c[method](req, md, { deadline: Date.now() + timeoutMs }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

/** npm dependencies of the workspace (kept external; @filemesh/* packages are bundled). */
function npmDependencies() {
  const out = new Set();
  for (const dir of [".", ...readdirSync(join(root, "services")).map((s) => `services/${s}`)]) {
    const p = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    for (const d of Object.keys({ ...p.dependencies, ...p.devDependencies }))
      if (!d.startsWith("@filemesh/")) out.add(d);
  }
  return [...out];
}

/** Bundles some of the permission service's own modules for in-process measurements. */
export async function permissionModules(outDir) {
  const outfile = join(outDir, "permission-modules.mjs");
  const src = (p) => JSON.stringify(join(root, "services", "permission", "src", p));
  await build({
    stdin: {
      contents: [
        `export { createAclIndex } from ${src("index/acl-index.ts")};`,
        `export { coldLoad } from ${src("sync/cold-load.ts")};`,
        `export { writeSnapshot } from ${src("sync/snapshot.ts")};`,
        `export { readHead } from ${src("store/change-log.ts")};`,
        `export { aclKeys } from ${src("sync/change-stream.ts")};`,
        `export { createPool, createLogger, createRedis } from ${JSON.stringify(join(root, "services", "kit", "src", "index.ts"))};`,
      ].join("\n"),
      resolveDir: root,
      loader: "ts",
    },
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: npmDependencies().flatMap((d) => [d, `${d}/*`]),
    logLevel: "warning",
  });
  return import(pathToFileURL(outfile).href);
}

/**
 * Runs ghz on a config object; returns the rps and latency percentiles (ms) of the calls whose
 * status is in `answered` (OK unless a variant expects another status).
 */
export async function ghz(config, dir, name, answered = ["OK"]) {
  execFileSync(join(root, "scripts", "tools.sh"), ["ghz"], { cwd: root, stdio: "ignore" });
  const path = join(dir, `${name}.ghz.json`);
  writeFileSync(path, `${JSON.stringify({ ...config, name }, null, 2)}\n`);
  const bin = join(root, ".tools", "bin", "ghz");
  const { stdout } = await run(bin, ["--config", path, "--format", "json"], {
    cwd: root,
    maxBuffer: 1 << 30,
  });
  const r = JSON.parse(stdout);
  const okLat = (r.details ?? []).filter((d) => answered.includes(d.status)).map((d) => d.latency / 1e6);
  const seconds = r.total / 1e9;
  const ok = answered.reduce((n, k) => n + (r.statusCodeDistribution?.[k] ?? 0), 0);
  return {
    command: `.tools/bin/ghz --config ${path.slice(root.length + 1)} --format json`,
    seconds: round(seconds, 2),
    ok,
    rps: round(ok / seconds, 1),
    latencyMs: percentiles(okLat),
    lat: okLat,
    statusCodes: r.statusCodeDistribution,
    errors: r.errorDistribution ?? {},
  };
}

export const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Pools segments of one call (from ghz()): OK rps over their total time, pooled latencies. */
export function pool(segments) {
  const seconds = segments.reduce((a, r) => a + r.seconds, 0);
  const ok = segments.reduce((a, r) => a + r.ok, 0);
  const statusCodes = {};
  for (const r of segments)
    for (const [k, n] of Object.entries(r.statusCodes ?? {})) statusCodes[k] = (statusCodes[k] ?? 0) + n;
  return {
    seconds: round(seconds, 2),
    ok,
    rps: round(ok / seconds, 1),
    latencyMs: percentiles(segments.flatMap((r) => r.lat)),
    statusCodes,
    segments: segments.map((r) => ({ command: r.command, rps: r.rps, latencyMs: r.latencyMs })),
  };
}

export function percentiles(xs) {
  if (!xs.length) return {};
  const s = Float64Array.from(xs).sort();
  const at = (p) => round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
  return {
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: round(s[s.length - 1]),
  };
}

/** bench/results/permission-<name>-<stamp>.{json,md} (and a folder for configs and logs). */
export function resultsDir(name) {
  const dir = join(root, "bench", "results", `permission-${name}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function writeResults(dir, data, markdown) {
  writeFileSync(`${dir}.json`, `${JSON.stringify(data, null, 2)}\n`);
  writeFileSync(`${dir}.md`, `${markdown}\n`);
  log(`wrote ${dir.slice(root.length + 1)}.json and .md`);
}

export function machine() {
  const cpus = execFileSync("nproc", { encoding: "utf8" }).trim();
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  return { node: process.version, cores: Number(cpus), loadAverage: load };
}
