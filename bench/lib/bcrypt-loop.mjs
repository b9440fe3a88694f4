// Raw password-check baseline for the login scenario: what auth-service's hasher does per
// login (HMAC-SHA256 pre-hash, then native bcrypt.compare on the libuv pool), with nothing
// else around it. Run as its own process so its thread pool is sized like the service's
// (UV_THREADPOOL_SIZE, default 4). Prints one JSON object on stdout.
//   node bench/lib/bcrypt-loop.mjs --cost 10 --concurrency 4 --seconds 5 [--single-seconds 2]
import { createHmac, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import bcrypt from "bcrypt";
import { latencyStats, round } from "./stats.mjs";

const { values } = parseArgs({
  options: {
    cost: { type: "string", default: "10" },
    concurrency: { type: "string", default: "4" },
    seconds: { type: "string", default: "5" },
    "single-seconds": { type: "string", default: "2" },
  },
});
const cost = Number(values.cost);
const concurrency = Number(values.concurrency);

const pepper = randomBytes(32).toString("base64url");
const preHash = (password) =>
  createHmac("sha256", pepper).update(password.normalize("NFC"), "utf8").digest("base64");
const password = "bench-login-password-7f3c";
const stored = await bcrypt.hash(preHash(password), cost);
const verify = () => bcrypt.compare(preHash(password), stored);

/** Keeps `n` verifications in flight for `secs`; counts those that finish in the window. */
async function loop(n, secs) {
  const lat = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + secs * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      if (!(await verify())) throw new Error("bcrypt.compare returned false");
      const done = performance.now();
      if (done <= end) lat.push(round(done - t, 2));
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  const cpu = process.cpuUsage(cpu0);
  return {
    // CPU time of the whole process (the pool threads included) per hash finished in the window.
    cpuMsPerHash: lat.length ? round((cpu.user + cpu.system) / 1000 / lat.length, 2) : null,
    seconds: secs,
    count: lat.length,
    rps: round(lat.length / secs),
    latencyMs: latencyStats(lat),
    lat,
  };
}

await verify(); // warm the pool threads
const single = await loop(1, Number(values["single-seconds"]));
const parallel = await loop(concurrency, Number(values.seconds));
process.stdout.write(
  `${JSON.stringify({
    cost,
    concurrency,
    threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    ...parallel,
    single,
  })}\n`,
);
