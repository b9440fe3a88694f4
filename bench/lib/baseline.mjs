// The login scenario's baseline: bench/lib/bcrypt-loop.mjs run as a child process (so its
// libuv pool is sized like the service's), in segments interleaved with the scenario's own
// segments (raw, login, raw, login, …, raw) so load drifting on a shared machine hits both.
import { run } from "./exec.mjs";
import { latencyStats, round } from "./stats.mjs";

/** Seconds in a ghz duration such as "15s", "1m" or "500ms" (10 when unreadable). */
export function durationSeconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(d ?? ""));
  if (!m) return 10;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]];
}

/** One raw segment; resolves with its figures (latencies included) and its command. */
export async function runBcryptLoop({ root, cost, concurrency, seconds }) {
  const argv = ["bench/lib/bcrypt-loop.mjs", "--cost", cost, "--concurrency", concurrency];
  argv.push("--seconds", String(seconds));
  const stdout = await run(process.execPath, argv, { cwd: root });
  return { result: JSON.parse(stdout), command: ["node", ...argv] };
}

const pooled = (segments) => {
  const seconds = segments.reduce((s, r) => s + r.seconds, 0);
  const count = segments.reduce((s, r) => s + r.count, 0);
  const cpuMs = segments.reduce((s, r) => s + (r.cpuMsPerHash ?? 0) * r.count, 0);
  return {
    cpuMsPerHash: count ? round(cpuMs / count, 2) : null,
    seconds,
    count,
    rps: round(count / seconds, 2),
    latencyMs: latencyStats(segments.flatMap((r) => r.lat)),
  };
};
const strip = ({ lat, single, ...rest }) => ({ ...rest, single: { ...single, lat: undefined } });

/**
 * The scenario's pooled figures (`concurrency` calls in flight) against the pooled raw
 * segments, plus per round: the scenario segment against the mean of the two raw ones around it.
 */
export function compareToBcrypt({
  result,
  concurrency,
  segments: scenarioSegments,
  raw: rawSegments,
  cores,
}) {
  const raw = pooled(rawSegments);
  const single = pooled(rawSegments.map((r) => r.single));
  const baseline = {
    cost: rawSegments[0].cost,
    concurrency: rawSegments[0].concurrency,
    threadpool: rawSegments[0].threadpool,
    cores,
    ...raw,
    single,
    segments: rawSegments.map(strip),
  };
  const rounds = scenarioSegments.map((s, i) => {
    const around = (rawSegments[i].rps + rawSegments[i + 1].rps) / 2;
    return { rps: s.rps, rawRps: round(around, 2), ratio: round(s.rps / around) };
  });
  // Pure hashing on an idle machine: C calls in flight over H hash slots on N cores take
  // max(1, min(C, H)/N) × max(1, C/H) × one hash alone.
  const queueing = Math.max(1, concurrency / baseline.concurrency);
  const sharing = Math.max(1, Math.min(concurrency, baseline.concurrency) / cores);
  return {
    baseline,
    rounds,
    ratio: {
      rps: round(result.rps / raw.rps),
      p50VsSingleHash: round(result.latencyMs.p50 / single.latencyMs.p50),
      p50VsParallelHash: round(result.latencyMs.p50 / raw.latencyMs.p50),
      expected: {
        p50VsSingleHash: round(sharing * queueing),
        p50VsParallelHash: round((sharing * queueing) / Math.max(1, baseline.concurrency / cores)),
      },
    },
  };
}
