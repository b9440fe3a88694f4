// Raw password-check baseline for the login scenario: what auth-service's hasher does per
// login (HMAC-SHA256 pre-hash, then native bcrypt.compare on the libuv pool), with nothing
// else around it. Run as its own process so its thread pool is sized like the service's
// (UV_THREADPOOL_SIZE, default 4). Prints one JSON object on stdout.
//   node bench/lib/bcrypt-loop.mjs --cost 10 --concurrency 4 --seconds 15 [--single-seconds 3]
import { createHmac, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import bcrypt from "bcrypt";

const { values } = parseArgs({
  options: {
    cost: { type: "string", default: "10" },
    concurrency: { type: "string", default: "4" },
    seconds: { type: "string", default: "10" },
    "single-seconds": { type: "string", default: "3" },
  },
});
const cost = Number(values.cost);
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const singleSeconds = Number(values["single-seconds"]);

const pepper = randomBytes(32).toString("base64url");
const preHash = (password) =>
  createHmac("sha256", pepper).update(password.normalize("NFC"), "utf8").digest("base64");
const password = "bench-login-password-7f3c";
const stored = await bcrypt.hash(preHash(password), cost);
const verify = () => bcrypt.compare(preHash(password), stored);

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const round = (x) => Math.round(x * 1000) / 1000;
const stats = (lat) => {
  const s = [...lat].sort((a, b) => a - b);
  return {
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
    p50: round(percentile(s, 50)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
  };
};

/** Keeps `n` verifications in flight for `secs`; counts those that finish in the window. */
async function loop(n, secs) {
  const lat = [];
  const start = performance.now();
  const end = start + secs * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      if (!(await verify())) throw new Error("bcrypt.compare returned false");
      const done = performance.now();
      if (done <= end) lat.push(done - t);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  return { count: lat.length, seconds: secs, rps: round(lat.length / secs), latencyMs: stats(lat) };
}

await verify(); // warm the pool threads
const single = await loop(1, singleSeconds);
const parallel = await loop(concurrency, seconds);
process.stdout.write(
  `${JSON.stringify({
    cost,
    concurrency,
    threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    single: { count: single.count, rps: single.rps, latencyMs: single.latencyMs },
    ...parallel,
  })}\n`,
);
