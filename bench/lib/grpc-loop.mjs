// Closed-loop gRPC load from Node (@grpc/grpc-js, one channel), for calls ghz cannot drive
// from static call data, and for the same client against the health baseline:
//   health   grpc.health.v1.Health/Check
//   refresh  AuthService/Refresh as token chains: each worker logs in once (before the clock
//            starts) and then refreshes with the token the previous refresh returned, so every
//            call rotates a live token exactly like a real client (a spent token would revoke
//            the session). A worker whose chain breaks (non-OK) logs in again, untimed.
// Prints one segment record (bench/lib/stats.mjs) as JSON on stdout.
//   node bench/lib/grpc-loop.mjs --addr 127.0.0.1:50051 --op refresh --concurrency 16 \
//        --seconds 5 --users bench/results/<stamp>/refresh.users.json
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { credentials, loadPackageDefinition, status } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync } from "@grpc/proto-loader";

const { values } = parseArgs({
  options: {
    addr: { type: "string", default: "127.0.0.1:50051" },
    op: { type: "string", default: "health" },
    concurrency: { type: "string", default: "16" },
    seconds: { type: "string", default: "5" },
    users: { type: "string", default: "" },
    root: { type: "string", default: process.cwd() },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const codeName = Object.fromEntries(
  Object.entries(status).map(([k, v]) => [
    v,
    k.toLowerCase().replace(/(^|_)(\w)/g, (_, __, c) => c.toUpperCase()),
  ]),
);
codeName[0] = "OK";
codeName[status.CANCELLED] = "Canceled"; // as Go (ghz) spells it
const opts = { "grpc.max_receive_message_length": 8 << 20 };

const unary = (client, method, req, deadlineMs = 10_000) =>
  new Promise((resolve, reject) =>
    client[method](req, { deadline: Date.now() + deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );

let call;
let prepare = async () => {};
if (values.op === "health") {
  const def = loadSync(join(values.root, "node_modules/grpc-health-check/proto/health/v1/health.proto"));
  const Health = loadPackageDefinition(def).grpc.health.v1.Health;
  const client = new Health(values.addr, credentials.createInsecure(), opts);
  call = () => unary(client, "check", { service: "" });
} else if (values.op === "refresh") {
  const image = readFileSync(join(values.root, "gen", "filemesh.binpb"));
  const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(image, { keepCase: false }));
  const client = new pkg.filemesh.auth.v1.AuthService(values.addr, credentials.createInsecure(), opts);
  const users = JSON.parse(readFileSync(values.users, "utf8"));
  const tokens = [];
  let nextUser = 0;
  const login = async (w) => {
    const u = users[nextUser++ % users.length];
    tokens[w] = (await unary(client, "login", u, 30_000)).refresh_token; // proto field names
  };
  prepare = async () => {
    for (let w = 0; w < concurrency; w++) await login(w);
  };
  call = async (w) => {
    try {
      tokens[w] = (await unary(client, "refresh", { refresh_token: tokens[w] })).refresh_token;
    } catch (err) {
      await login(w).catch(() => {});
      throw err;
    }
  };
} else {
  console.error(`grpc-loop: unknown --op ${values.op}`);
  process.exit(2);
}

await prepare();
// Warm the channel (connection, first-call costs) outside the window.
for (let w = 0; w < concurrency; w++) await call(w).catch(() => {});

const statusCodes = {};
const errors = {};
const lat = {};
const start = performance.now();
const end = start + seconds * 1000;
const worker = async (w) => {
  while (performance.now() < end) {
    const t = performance.now();
    let code = "OK";
    try {
      await call(w);
    } catch (err) {
      code = codeName[err.code] ?? String(err.code);
      const msg = `rpc error: code = ${code} desc = ${err.details ?? err.message}`;
      errors[msg] = (errors[msg] ?? 0) + 1;
    }
    const done = performance.now();
    // Calls still running at the end are not counted (as ghz's duration-stop=ignore).
    if (done > end) break;
    statusCodes[code] = (statusCodes[code] ?? 0) + 1;
    lat[code] ??= [];
    lat[code].push(Math.round((done - t) * 1000) / 1000);
  }
};
await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
process.stdout.write(`${JSON.stringify({ seconds, statusCodes, errors, lat })}\n`);
process.exit(0);
