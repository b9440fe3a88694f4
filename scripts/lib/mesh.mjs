// Starts the local mesh: N replicas of each service (replica i on base port + 10·i, admin
// port + 1000), then the gateway; waits for health; stops everything on request.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { devSecrets, ensureDatabase } from "./dev-env.mjs";
import { waitServing } from "./health.mjs";

export const SERVICES = { auth: 50051, user: 50052, permission: 50053, file: 50054, processor: 50055 };
export const GATEWAY_PORT = 8080;
/** The file service's HTTP listener (tus, data plane): gRPC port + 2000, replica i + 10·i. */
export const FILE_HTTP_PORT = 52054;
/**
 * V8 flags per service, as the chart gives them (k8s/filemesh/values.yaml `nodeArgs`). The file
 * service's young generation may grow to 64 MiB per semi-space: a large download's buffers then
 * die young instead of being promoted, where each 64 MiB of them set off a full collection
 * (2.1–2.3 instead of 8–13 ms CPU per MiB of ReadFile; bench/README.md, stop 35).
 */
export const NODE_ARGS = { file: ["--max-semi-space-size=64"] };

export const addrsFor = (service, replicas, host = "127.0.0.1") =>
  Array.from({ length: replicas }, (_, i) => `${host}:${SERVICES[service] + 10 * i}`);

/**
 * Returns { start, stop } at once so a signal during start-up can still stop what began.
 * `dist`: where the bundles and the gateway binary are (relative to root; the bench runs builds
 * kept elsewhere to compare them).
 */
export function createMesh({
  root,
  replicas = 1,
  env = {},
  log = console.log,
  quiet = false,
  dist = "dist",
}) {
  const children = [];
  let stopping = false;
  const stop = async (timeoutMs = 25_000) => {
    stopping = true;
    const alive = children.filter((c) => !c.exited);
    for (const c of alive) c.child.kill("SIGTERM");
    await Promise.race([
      Promise.all(alive.map((c) => new Promise((r) => (c.exited ? r() : c.child.once("exit", r))))),
      new Promise((r) => setTimeout(r, timeoutMs)),
    ]);
    for (const c of children) if (!c.exited) c.child.kill("SIGKILL");
  };
  const start = async () => {
    try {
      await startAll({ root, replicas, env, log, quiet, dist, children, isStopping: () => stopping });
    } catch (err) {
      await stop();
      throw err;
    }
  };
  return { start, stop, children, replicas };
}

async function startAll({ root, replicas, env, log, quiet, dist, children, isStopping }) {
  const databaseUrl =
    env.DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/filemesh";
  await ensureDatabase(databaseUrl);
  const shared = {
    ...process.env,
    ...devSecrets(root),
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    // This mesh's own NATS streams/consumers and Redis keys (docs/conventions.md, "Runs"): the
    // tests beside it use theirs. A bench or a second mesh passes its own.
    RUN_PREFIX: process.env.RUN_PREFIX || "dev",
    // Services sit behind the gateway here, which sets X-Forwarded-For.
    TRUST_FORWARDED_FOR: "true",
    ...Object.fromEntries(
      Object.keys(SERVICES).map((s) => [`${s.toUpperCase()}_ADDRS`, addrsFor(s, replicas).join(",")]),
    ),
    FILE_HTTP_ADDRS: Array.from({ length: replicas }, (_, i) => `127.0.0.1:${FILE_HTTP_PORT + 10 * i}`).join(
      ",",
    ),
    ...env,
  };
  const spawnChild = (name, cmd, args, childEnv) => {
    const child = spawn(cmd, args, { cwd: root, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    const entry = { name, child, exited: false };
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        if (!quiet) log(`[${name}] ${line}`);
      });
    }
    child.on("exit", (code, signal) => {
      entry.exited = true;
      if (!isStopping()) log(`[${name}] exited (${signal ?? code})`);
    });
    children.push(entry);
    return entry;
  };

  for (const [service, base] of Object.entries(SERVICES)) {
    for (let i = 0; i < replicas; i++) {
      spawnChild(
        `${service}#${i}`,
        process.execPath,
        ["--enable-source-maps", ...(NODE_ARGS[service] ?? []), join(dist, `${service}.js`)],
        {
          ...shared,
          GRPC_PORT: String(base + 10 * i),
          ADMIN_PORT: String(base + 1000 + 10 * i),
          ...(service === "file" ? { FILE_HTTP_PORT: String(FILE_HTTP_PORT + 10 * i) } : {}),
        },
      );
    }
  }
  for (const c of [...children]) {
    const port = c.name.startsWith("gateway")
      ? 0
      : SERVICES[c.name.split("#")[0]] + 10 * Number(c.name.split("#")[1]);
    const ok = await waitServing(`127.0.0.1:${port}`, { isAlive: () => !c.exited });
    if (!ok) throw new Error(`${c.name} did not become SERVING`);
  }
  const gatewayBin = join(root, dist, "filemesh-gateway");
  if (existsSync(gatewayBin)) {
    const gw = spawnChild("gateway", gatewayBin, [], { ...shared, GATEWAY_PORT: String(GATEWAY_PORT) });
    if (!(await waitHttp(`http://127.0.0.1:${GATEWAY_PORT}/healthz`, () => !gw.exited))) {
      throw new Error("gateway did not become healthy");
    }
  }
}

async function waitHttp(url, isAlive, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && isAlive()) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
