// The hashing arithmetic for issue 4: per-core bcrypt rate on this machine (the raw loop of
// bench/lib/bcrypt-loop.mjs, HMAC pre-hash + bcrypt.compare, at each cost in --costs), then
// the cores needed for --logins logins/s plus --registrations registrations/s (one hash each),
// and what a login latency target (--target-ms) allows for the cost factor.
// Prints { tables, notes, figures } as JSON.
//   node bench/lib/capacity.mjs --costs 10,11,12 --seconds 2 --logins 10000 --registrations 1000
import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { round } from "./stats.mjs";

const { values } = parseArgs({
  options: {
    costs: { type: "string", default: "10,11,12" },
    seconds: { type: "string", default: "2" },
    logins: { type: "string", default: "10000" },
    registrations: { type: "string", default: "1000" },
    "target-ms": { type: "string", default: "100" },
    "overhead-ms": { type: "string", default: "10" },
    utilization: { type: "string", default: "0.7" },
  },
});
const cores = availableParallelism();
const costs = values.costs.split(",").map(Number);
const loop = join(dirname(fileURLToPath(import.meta.url)), "bcrypt-loop.mjs");
const runLoop = (cost) =>
  new Promise((resolve, reject) => {
    const argv = [loop, "--cost", String(cost), "--concurrency", String(cores)];
    argv.push("--seconds", values.seconds, "--single-seconds", values.seconds);
    execFile(
      process.execPath,
      argv,
      { env: { ...process.env, UV_THREADPOOL_SIZE: String(cores) } },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))),
    );
  });

const measured = [];
for (const cost of costs) {
  const r = await runLoop(cost);
  measured.push({
    cost,
    singleP50Ms: r.single.latencyMs.p50,
    singleCount: r.single.count,
    parallelRps: r.rps,
    parallelCount: r.count,
    perCoreRps: round(r.rps / cores, 2),
  });
}

const hashesPerSec = Number(values.logins) + Number(values.registrations);
const util = Number(values.utilization);
const target = Number(values["target-ms"]);
const overhead = Number(values["overhead-ms"]);
const base = measured[0];
const rows = measured.map((m) => [
  m.cost,
  m.singleP50Ms,
  m.singleCount,
  m.parallelRps,
  m.perCoreRps,
  Math.ceil(hashesPerSec / m.perCoreRps),
  Math.ceil(hashesPerSec / m.perCoreRps / util),
  m.singleP50Ms + overhead <= target ? "yes" : "no",
]);
// Each +1 of cost doubles the work: the largest cost whose single hash, plus the rest of a login,
// stays within the target on this machine's cores, extrapolated from the lowest measured cost.
const maxCost = base.cost + Math.floor(Math.log2((target - overhead) / base.singleP50Ms));
const msAt = (cost) => round(base.singleP50Ms * 2 ** (cost - base.cost), 1);
const figures = { cores, hashesPerSec, utilization: util, measured, maxCostForTarget: maxCost };
process.stdout.write(
  `${JSON.stringify({
    tables: [
      {
        title:
          `bcrypt per core on this machine (HMAC + bcrypt.compare; ${cores} cores, ${values.seconds} s serial + ` +
          `${values.seconds} s with ${cores} in parallel per cost) and cores for ${values.logins} logins/s + ` +
          `${values.registrations} registrations/s (${hashesPerSec} hashes/s)`,
        header: [
          "cost",
          "one hash p50 ms",
          "serial hashes",
          `rps, ${cores} in parallel`,
          "per-core rps",
          "cores at 100 %",
          `cores at ${util * 100} %`,
          `hash + ${overhead} ms ≤ ${target} ms`,
        ],
        rows,
      },
    ],
    notes: [
      `at cost ${base.cost}: one hash ${base.singleP50Ms} ms, ${base.perCoreRps} hashes/s per core → ` +
        `**${Math.ceil(hashesPerSec / base.perCoreRps)} cores** busy for ${hashesPerSec} hashes/s, ` +
        `**${Math.ceil(hashesPerSec / base.perCoreRps / util)}** at ${util * 100} % utilisation (headroom for bursts and the rest of each call)`,
      `a login is one hash plus ≈ ${overhead} ms (Postgres, Redis, JWT, gRPC); under ${target} ms on these cores needs ` +
        `one hash ≤ ${target - overhead} ms: cost ≤ **${maxCost}** (cost ${maxCost} ≈ ${msAt(maxCost)} ms, ` +
        `cost ${maxCost + 1} ≈ ${msAt(maxCost + 1)} ms, each +1 doubles the time and the cores). That holds only ` +
        `below saturation: with the hash pool busy each login also waits ≈ one hash per login queued ahead of it`,
      "this machine is shared and loaded (see the load average): an idle server core is faster, so these core " +
        "counts are an upper bound for this CPU model",
    ],
    figures,
  })}\n`,
);
