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
