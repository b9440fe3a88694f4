// Latency figures computed one way for every source (ghz details, the raw bcrypt loop), so
// the scenario and its baseline are comparable: nearest-rank percentiles over milliseconds.
export const round = (x, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function latencyStats(ms) {
  if (!ms.length) return { mean: null, p50: null, p90: null, p95: null, p99: null, max: null };
  const s = [...ms].sort((a, b) => a - b);
  const at = (p) => round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
  return {
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    max: round(s[s.length - 1]),
  };
}

/**
 * One measured segment from any driver (ghz, the Node loops), in one shape:
 *   { seconds, statusCodes: {status: n}, errors: {message: n}, lat: {status: [ms…]} }
 * plus, where the driver knows them, bytes (moved by answered calls) and cpuMs ({process: ms}).
 * summarize() pools segments of the same call: rps counts calls whose status is in `ok`
 * (["OK"] unless the scenario expects another answer), latencies are over those calls, and
 * every other status gets its own latency figures (e.g. how fast shed calls are answered).
 */
export function summarize(segments, ok = ["OK"]) {
  const seconds = segments.reduce((s, r) => s + r.seconds, 0);
  const statusCodes = {};
  const errors = {};
  const lat = {};
  for (const r of segments) {
    for (const [k, n] of Object.entries(r.statusCodes ?? {})) statusCodes[k] = (statusCodes[k] ?? 0) + n;
    for (const [k, n] of Object.entries(r.errors ?? {})) errors[k] = (errors[k] ?? 0) + n;
    for (const [k, xs] of Object.entries(r.lat ?? {})) lat[k] = (lat[k] ?? []).concat(xs);
  }
  const okCount = ok.reduce((s, k) => s + (statusCodes[k] ?? 0), 0);
  // Bytes moved by answered calls (file scenarios).
  const bytes = segments.some((r) => r.bytes !== undefined)
    ? segments.reduce((s, r) => s + (r.bytes ?? 0), 0)
    : undefined;
  const mib = bytes !== undefined ? bytes / 2 ** 20 : 0;
  // CPU of the serving processes (bench/lib/proc-cpu.mjs), per answered call.
  const cpuMs = {};
  for (const r of segments)
    for (const [k, ms] of Object.entries(r.cpuMs ?? {})) cpuMs[k] = (cpuMs[k] ?? 0) + ms;
  const cpuUsPerCall = Object.fromEntries(
    Object.entries(cpuMs).map(([k, ms]) => [k, okCount ? round((ms * 1000) / okCount, 0) : null]),
  );
  const byStatus = {};
  for (const [k, xs] of Object.entries(lat)) {
    if (!ok.includes(k)) byStatus[k] = { count: xs.length, latencyMs: latencyStats(xs) };
  }
  return {
    seconds: round(seconds, 2),
    count: Object.values(statusCodes).reduce((s, n) => s + n, 0),
    ok: okCount,
    okStatuses: ok,
    rps: round(okCount / seconds, 1),
    latencyMs: latencyStats(ok.flatMap((k) => lat[k] ?? [])),
    statusCodes,
    errors,
    ...(Object.keys(byStatus).length ? { byStatus } : {}),
    ...(Object.keys(cpuMs).length ? { cpuMs, cpuUsPerCall } : {}),
    ...(bytes !== undefined ? { bytes, mibPerSec: round(mib / seconds, 1) } : {}),
    ...(bytes && Object.keys(cpuMs).length
      ? { cpuMsPerMiB: Object.fromEntries(Object.entries(cpuMs).map(([k, ms]) => [k, round(ms / mib, 2)])) }
      : {}),
  };
}
