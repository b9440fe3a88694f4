// The login scenario's baseline: bench/lib/bcrypt-loop.mjs run as a child process (so its
// libuv pool is sized like the service's), once before and once after the measured run;
// the ratio uses their mean so load drifting during the run shows up in both halves.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const r3 = (x) => Math.round(x * 1000) / 1000;
const mean = (xs) => r3(xs.reduce((a, b) => a + b, 0) / xs.length);

/** Seconds in a ghz duration such as "15s", "1m" or "500ms" (10 when absent or unreadable). */
export function durationSeconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(d ?? ""));
  if (!m) return 10;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]];
}

/** One raw run; resolves with its figures and the command that produced them. */
export async function runBcryptLoop({ root, cost, concurrency, seconds }) {
  const argv = ["bench/lib/bcrypt-loop.mjs", "--cost", cost, "--concurrency", concurrency];
  argv.push("--seconds", String(Math.max(1, Math.round(seconds))));
  const { stdout } = await promisify(execFile)(process.execPath, argv, { cwd: root });
  return { result: JSON.parse(stdout), command: ["node", ...argv] };
}

/** Scenario figures against the raw runs: rps ratio and p50 against one hash. */
export function compareToBcrypt(result, runs) {
  const baseline = {
    cost: runs[0].cost,
    concurrency: runs[0].concurrency,
    threadpool: runs[0].threadpool,
    rps: mean(runs.map((r) => r.rps)),
    latencyMs: { p50: mean(runs.map((r) => r.latencyMs.p50)), p99: mean(runs.map((r) => r.latencyMs.p99)) },
    single: {
      rps: mean(runs.map((r) => r.single.rps)),
      latencyMs: { p50: mean(runs.map((r) => r.single.latencyMs.p50)) },
    },
    runs,
  };
  return {
    baseline,
    ratio: {
      rps: r3(result.rps / baseline.rps),
      p50VsSingleHash: r3(result.latencyMs.p50 / baseline.single.latencyMs.p50),
      p50VsParallelHash: r3(result.latencyMs.p50 / baseline.latencyMs.p50),
    },
  };
}
