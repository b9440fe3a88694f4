// Memory of a serving process while a scenario runs: resident set size from /proc/<pid>/status
// (every 50 ms) and the V8 heap in use from the service's Prometheus endpoint
// (nodejs_heap_size_used_bytes of prom-client's default metrics, every 250 ms).
import { readFileSync } from "node:fs";

const MiB = 1024 * 1024;

function rssMiB(pid) {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function heapMiB(metricsUrl) {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(1000) })).text();
    const v = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1];
    return v ? Number(v) / MiB : undefined;
  } catch {
    return undefined;
  }
}

const r1 = (x) => (x === undefined ? null : Math.round(x * 10) / 10);

/** Starts sampling; `stop()` resolves with { rssMiB, heapUsedMiB } as { first, min, max, last }. */
export function sampleMemory({ pid, metricsUrl }) {
  const rss = [];
  const heap = [];
  const t1 = setInterval(() => {
    const x = rssMiB(pid);
    if (x !== undefined) rss.push(x);
  }, 50);
  let busy = false;
  const t2 = setInterval(async () => {
    if (busy) return;
    busy = true;
    const x = await heapMiB(metricsUrl);
    if (x !== undefined) heap.push(x);
    busy = false;
  }, 250);
  const sum = (xs) =>
    xs.length
      ? {
          first: r1(xs[0]),
          min: r1(Math.min(...xs)),
          max: r1(Math.max(...xs)),
          last: r1(xs.at(-1)),
          samples: xs.length,
        }
      : null;
  return {
    async stop() {
      clearInterval(t1);
      clearInterval(t2);
      const x = rssMiB(pid);
      if (x !== undefined) rss.push(x);
      const h = await heapMiB(metricsUrl);
      if (h !== undefined) heap.push(h);
      return { rssMiB: sum(rss), heapUsedMiB: sum(heap) };
    },
  };
}
