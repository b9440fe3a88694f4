// Types for stats.mjs, for the bundled in-process entries (bench/lib/*.entry.ts).
export interface LatencyStats {
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}
export function round(x: number, digits?: number): number;
export function latencyStats(ms: number[]): LatencyStats;
export interface SegmentRecord {
  seconds: number;
  statusCodes?: Record<string, number>;
  errors?: Record<string, number>;
  lat?: Record<string, number[]>;
  bytes?: number;
  cpuMs?: Record<string, number>;
}
export function summarize(segments: SegmentRecord[], ok?: string[]): Record<string, unknown>;
