// The event-loop lag series (nodejs_eventloop_lag_*, read by the chart's dashboard and alert):
// sampled every EVENT_LOOP_SAMPLE_MS, not every 10 ms as prom-client would (100 wake-ups a second
// of every idle process), and reported as how late the samples came, so an idle loop reads ≈ 0.
import perfHooks from "node:perf_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EVENT_LOOP_SAMPLE_MS } from "../src/event-loop-lag.js";
import { createRegistry } from "../src/metrics.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function value(text: string, name: string): number {
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text);
  if (!m) throw new Error(`${name} missing`);
  return Number(m[1]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("event-loop lag metrics", () => {
  it("no histogram samples the loop more often than every EVENT_LOOP_SAMPLE_MS", async () => {
    const created: number[] = [];
    const real = perfHooks.monitorEventLoopDelay;
    vi.spyOn(perfHooks, "monitorEventLoopDelay").mockImplementation((o) => {
      created.push(o?.resolution ?? 10);
      return real(o);
    });
    createRegistry("user");
    createRegistry("file");
    // prom-client's own (one per registry, never sampling) and the kit's (one per process).
    expect(created.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...created)).toBeGreaterThanOrEqual(EVENT_LOOP_SAMPLE_MS);
    expect(EVENT_LOOP_SAMPLE_MS).toBeGreaterThanOrEqual(50);
  });

  it("an idle loop reads ≈ 0, and each series is there once, under prom-client's names", async () => {
    const registry = createRegistry("user");
    await registry.metrics(); // starts a fresh window
    await sleep(6 * EVENT_LOOP_SAMPLE_MS);
    const text = await registry.metrics();
    for (const s of ["", "_min", "_max", "_mean", "_stddev", "_p50", "_p90", "_p99"]) {
      const name = `nodejs_eventloop_lag${s}_seconds`;
      expect(text.match(new RegExp(`^# TYPE ${name} gauge$`, "gm"))).toHaveLength(1);
      expect(value(text, name)).toBeGreaterThanOrEqual(0);
    }
    expect(value(text, "nodejs_eventloop_lag_p50_seconds")).toBeLessThan(0.01);
    expect(value(text, "nodejs_eventloop_lag_p99_seconds")).toBeLessThan(0.03);
    expect(value(text, "nodejs_eventloop_lag_seconds")).toBeLessThan(0.03);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{service="user"\} /m);
  });

  it("a blocked loop shows in the next scrape's max and p99, and not in the one after", async () => {
    const registry = createRegistry("permission");
    await registry.metrics();
    await sleep(2 * EVENT_LOOP_SAMPLE_MS);
    const until = performance.now() + 3 * EVENT_LOOP_SAMPLE_MS;
    while (performance.now() < until) {
      // blocks the loop for three sample periods
    }
    await sleep(4 * EVENT_LOOP_SAMPLE_MS);
    const blocked = await registry.metrics();
    // The sample due during the block came ≥ 2 periods late.
    expect(value(blocked, "nodejs_eventloop_lag_max_seconds")).toBeGreaterThanOrEqual(
      (1.8 * EVENT_LOOP_SAMPLE_MS) / 1000,
    );
    expect(value(blocked, "nodejs_eventloop_lag_max_seconds")).toBeLessThan(1);
    expect(value(blocked, "nodejs_eventloop_lag_p99_seconds")).toBe(
      value(blocked, "nodejs_eventloop_lag_max_seconds"),
    );
    await sleep(6 * EVENT_LOOP_SAMPLE_MS);
    const after = await registry.metrics();
    expect(value(after, "nodejs_eventloop_lag_max_seconds")).toBeLessThan(0.03);
  });
});
