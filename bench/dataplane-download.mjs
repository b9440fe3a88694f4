// Issue 15 (data plane), fs driver: 64 KiB downloads over REST, `GET /v1/files/{id}/content`,
// three gateways in front of one mesh, interleaved with a plain Node HTTP server streaming the
// very same object file from disk (the baseline), CPU per download from /proc:
//   - grpc:  GATEWAY_DATA_PLANE=off — the server stream of HttpBody messages (before issue 15);
//   - proxy: the data plane — CreateDownloadTicket (unary), bytes from the file service's
//            /v1/data/{ticket} over plain HTTP;
//   - local: the data plane with GATEWAY_BLOB_DIR — bytes straight from disk (sendfile).
// Private ports (56051…, gateways 58081–58083, baseline 58090) and database filemesh_dp_bench,
// so it runs beside another mesh. Usage (after npm run build):
//   node bench/dataplane-download.mjs [--seconds 10] [--connections 64] [--rounds 2]
import { spawn } from "node:child_process";
import { createReadStream, mkdtempSync } from "node:fs";
import http from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { devSecrets, ensureDatabase } from "../scripts/lib/dev-env.mjs";
import { cpuMsOf } from "./lib/proc-cpu.mjs";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "64" },
    rounds: { type: "string", default: "2" },
    size: { type: "string", default: "65536" },
  },
});
const root = join(import.meta.dirname, "..");
// BENCH_DIST: another build's dist/ (an A/B against older code, as bench/run.mjs takes it).
const dist = process.env.BENCH_DIST ? resolve(root, process.env.BENCH_DIST) : join(root, "dist");
const SIZE = Number(values.size);
const BASE = 56051;
const ports = { auth: BASE, user: BASE + 1, permission: BASE + 2, file: BASE + 3 };
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
const stop = () => {
  for (const c of children) c.kill("SIGTERM");
};
process.on("exit", stop);
process.on("SIGINT", () => process.exit(130));

const pids = {};
for (const [s, port] of Object.entries(ports)) {
  pids[s] = spawnChild(s, process.execPath, [join(dist, `${s}.js`)], {
    GRPC_PORT: String(port),
    ADMIN_PORT: String(port + 1000),
    FILE_HTTP_PORT: String(ports.file + 2000),
  }).pid;
}
const gateways = { grpc: 58081, proxy: 58082, local: 58083 };
const gwEnv = {
  grpc: { GATEWAY_DATA_PLANE: "off" },
  proxy: {},
  local: { GATEWAY_BLOB_DIR: blobDir },
};
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
await waitHttp(`http://127.0.0.1:${ports.file + 2000}/healthz`);
// Every service's gRPC port too (the file service's HTTP listener can answer before it).
const listening = (port) =>
  new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
for (const port of Object.values(ports)) {
  for (let i = 0; !(await listening(port)); i++) {
    if (i === 300) throw new Error(`127.0.0.1:${port} did not come up`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
for (const [name, port] of Object.entries(gateways)) {
  pids[`gateway-${name}`] = spawnChild(`gw-${name}`, join(dist, "filemesh-gateway"), [], {
    GATEWAY_PORT: String(port),
    ...gwEnv[name],
  }).pid;
}
// /healthz is 503 here (no processor): any answer means listening.
for (const port of Object.values(gateways)) await waitHttp(`http://127.0.0.1:${port}/healthz`, true);

// Seed: one user, one 64 KiB file.
const gw = `http://127.0.0.1:${gateways.proxy}`;
const email = `dp-${Date.now()}@bench.example`;
const j = async (path, body, headers = {}) => {
  const r = await fetch(`${gw}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  return r.json();
};
await j("/v1/auth:register", { email, password: "a long bench passphrase", displayName: "B" });
const { accessToken } = await j("/v1/auth:login", { email, password: "a long bench passphrase" });
const auth = { authorization: `Bearer ${accessToken}` };
const data = Buffer.alloc(SIZE, 7);
const up = await fetch(`${gw}/v1/files:upload?name=bench.bin`, {
  method: "POST",
  headers: { ...auth, "content-type": "application/octet-stream" },
  body: data,
});
const file = await up.json();
if (!file.id) throw new Error(`seed failed: ${JSON.stringify(file)}`);
const ticket = await fetch(`${gw}/v1/files/${file.id}/content?redirect=true`, {
  headers: auth,
  redirect: "manual",
});
const claims = JSON.parse(
  Buffer.from(ticket.headers.get("location").split("/").pop().split(".")[0], "base64url").toString(),
);
const objectPath = join(blobDir, "objects", claims.k);

// Baseline: a plain Node HTTP server streaming the same file (headers as a download has).
const baseline = http.createServer((_req, res) => {
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": SIZE,
    "content-disposition": 'attachment; filename="bench.bin"',
    "x-content-type-options": "nosniff",
  });
  createReadStream(objectPath).pipe(res);
});
await new Promise((r) => baseline.listen(58090, "127.0.0.1", r));

function loop(url, headers, seconds, connections) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const u = new URL(url);
  let ok = 0;
  let bad = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const req = http.request(
        { agent, host: u.hostname, port: u.port, path: u.pathname, headers },
        (res) => {
          let n = 0;
          res.on("data", (c) => {
            n += c.length;
          });
          res.on("end", () => {
            if (res.statusCode === 200 && n === SIZE) ok++;
            else bad++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        bad++;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (Date.now() < end) await one();
  };
  return Promise.all(Array.from({ length: connections }, worker)).then(() => {
    agent.destroy();
    return { ok, bad };
  });
}

const seconds = Number(values.seconds);
const connections = Number(values.connections);
const serving = ["auth", "permission", "file"];
const results = {};
const targets = {
  baseline: { url: "http://127.0.0.1:58090/", headers: {}, procs: [] },
  ...Object.fromEntries(
    Object.entries(gateways).map(([name, port]) => [
      name,
      {
        url: `http://127.0.0.1:${port}/v1/files/${file.id}/content`,
        headers: auth,
        procs: [...serving, `gateway-${name}`],
      },
    ]),
  ),
};
for (const t of Object.values(targets)) await loop(t.url, t.headers, 1, 8); // warm-up
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, t] of Object.entries(targets)) {
    const before = Object.fromEntries(t.procs.map((p) => [p, cpuMsOf(pids[p])]));
    const selfBefore = process.cpuUsage();
    const r = await loop(t.url, t.headers, seconds, connections);
    const cpu = Object.fromEntries(t.procs.map((p) => [p, cpuMsOf(pids[p]) - before[p]]));
    const self = process.cpuUsage(selfBefore);
    const total = Object.values(cpu).reduce((a, b) => a + b, 0);
    results[name] = results[name] ?? [];
    results[name].push({
      rps: r.ok / seconds,
      errors: r.bad,
      cpuMsPerDownload: r.ok ? total / r.ok : 0,
      cpu,
      clientCpuMs: (self.user + self.system) / 1000,
    });
    console.log(
      `${name.padEnd(8)} round ${round}: ${(r.ok / seconds).toFixed(0)} req/s, ${r.bad} errors, ` +
        `server CPU ${(r.ok ? total / r.ok : 0).toFixed(3)} ms/download ${JSON.stringify(cpu)}`,
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
      `CPU ${mean(rs.map((r) => r.cpuMsPerDownload)).toFixed(3)} ms/download (services + gateway)`,
  );
}
baseline.close();
stop();
process.exit(0);
