// The hashing arithmetic for issue 4: what one password check (HMAC-SHA256 pre-hash + native
// bcrypt.compare, as auth's hasher does it) costs on this machine at each cost in --costs, and
// from that the cores needed for --logins logins/s plus --registrations registrations/s (one
// hash each) and what a login latency target (--target-ms) allows for the cost factor.
// The machine is shared, so wall time per hash says as much about the neighbours as about
// bcrypt: the per-core rate comes from CPU time (process.cpuUsage over serial hashes, one in
// flight, so the CPU time is the hash's own); wall p50 and min are reported next to it.
// Prints { tables, notes, figures } as JSON.
//   node bench/lib/capacity.mjs --costs 10,11 --seconds 4 --logins 10000 --registrations 1000
import { createHmac, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import bcrypt from "bcrypt";
import { latencyStats, round } from "./stats.mjs";

const { values } = parseArgs({
  options: {
    costs: { type: "string", default: "10,11" },
    seconds: { type: "string", default: "4" },
    logins: { type: "string", default: "10000" },
    registrations: { type: "string", default: "1000" },
    "target-ms": { type: "string", default: "100" },
    "overhead-ms": { type: "string", default: "10" },
    utilization: { type: "string", default: "0.7" },
  },
});
const cores = availableParallelism();
const costs = values.costs.split(",").map(Number);
const pepper = randomBytes(32).toString("base64url");
const preHash = (pw) => createHmac("sha256", pepper).update(pw.normalize("NFC"), "utf8").digest("base64");
const password = "bench-login-password-7f3c";

const measured = [];
for (const cost of costs) {
  const stored = await bcrypt.hash(preHash(password), cost);
  await bcrypt.compare(preHash(password), stored); // warm the pool thread
  const wall = [];
  const cpu0 = process.cpuUsage();
  const end = performance.now() + Number(values.seconds) * 1000;
  while (wall.length < 3 || performance.now() < end) {
    const t = performance.now();
    if (!(await bcrypt.compare(preHash(password), stored))) throw new Error("compare returned false");
    wall.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / wall.length;
  const st = latencyStats(wall);
  measured.push({
    cost,
    hashes: wall.length,
    cpuMsPerHash: round(cpuMs, 1),
    wallP50Ms: round(st.p50, 1),
    wallMinMs: round(Math.min(...wall), 1),
    perCoreRps: round(1000 / cpuMs, 2),
  });
}

const hashesPerSec = Number(values.logins) + Number(values.registrations);
const util = Number(values.utilization);
const target = Number(values["target-ms"]);
const overhead = Number(values["overhead-ms"]);
const base = measured[0];
const rows = measured.map((m) => [
  m.cost,
  m.hashes,
  m.cpuMsPerHash,
  m.wallP50Ms,
  m.wallMinMs,
  m.perCoreRps,
  Math.ceil(hashesPerSec / m.perCoreRps),
  Math.ceil(hashesPerSec / m.perCoreRps / util),
  m.cpuMsPerHash + overhead <= target ? "yes" : "no",
]);
// Each +1 of cost doubles the work: the largest cost whose single hash, plus the rest of a login,
// stays within the target on this machine's cores, extrapolated from the lowest measured cost.
const maxCost = base.cost + Math.floor(Math.log2((target - overhead) / base.cpuMsPerHash));
const msAt = (cost) => round(base.cpuMsPerHash * 2 ** (cost - base.cost), 1);
const figures = { cores, hashesPerSec, utilization: util, measured, maxCostForTarget: maxCost };
process.stdout.write(
  `${JSON.stringify({
    tables: [
      {
        title:
          `bcrypt per core on this CPU (HMAC + bcrypt.compare, one at a time for ≥ ${values.seconds} s per cost; ` +
          `CPU time per hash from process.cpuUsage) and cores for ${values.logins} logins/s + ` +
          `${values.registrations} registrations/s (${hashesPerSec} hashes/s)`,
        header: [
          "cost",
          "hashes",
          "CPU ms / hash",
          "wall p50 ms",
          "wall min ms",
          "per-core rps (1 / CPU)",
          "cores at 100 %",
          `cores at ${util * 100} %`,
          `CPU + ${overhead} ms ≤ ${target} ms`,
        ],
        rows,
      },
    ],
    notes: [
      `at cost ${base.cost}: one hash takes ${base.cpuMsPerHash} ms of CPU, ${base.perCoreRps} hashes/s per core → ` +
        `**${Math.ceil(hashesPerSec / base.perCoreRps)} cores** busy for ${hashesPerSec} hashes/s, ` +
        `**${Math.ceil(hashesPerSec / base.perCoreRps / util)}** at ${util * 100} % utilisation (headroom for bursts and the rest of each call)`,
      `a login is one hash plus ≈ ${overhead} ms (Postgres, Redis, JWT, gRPC); under ${target} ms on these cores needs ` +
        `one hash ≤ ${target - overhead} ms: cost ≤ **${maxCost}** (cost ${maxCost} ≈ ${msAt(maxCost)} ms, ` +
        `cost ${maxCost + 1} ≈ ${msAt(maxCost + 1)} ms, each +1 doubles the time and the cores). That holds only ` +
        `below saturation: with the hash pool busy each login also waits ≈ one hash per login queued ahead of it`,
      "wall time per hash here is inflated by the machine's other load (wall p50 vs CPU time); the CPU time is " +
        "what a dedicated core would take, so the core counts hold for this CPU model with nothing else on it",
    ],
    figures,
  })}\n`,
);
