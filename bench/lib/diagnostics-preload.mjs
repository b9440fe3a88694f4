// Preloaded into every Node service of a diagnostic run (NODE_OPTIONS=--import; V8 flags such
// as --cpu-prof or --trace-gc are not allowed there):
//   BENCH_CPU_PROF_DIR  V8's sampling profiler from start to exit, written as
//                       <dir>/CPU.<pid>.cpuprofile (bench/lib/cpu-profile.mjs summarizes it)
//   BENCH_HEAP_PROF_DIR V8's sampling heap profiler from start to exit, written as
//                       <dir>/Heap.<pid>.heapprofile: where the objects were allocated that
//                       outlived the young generation (BENCH_HEAP_PROF=promoted: they were
//                       promoted, so a full collection has to find them) or every allocation
//                       (BENCH_HEAP_PROF=all); bench/lib/heap-profile.mjs summarizes it
//   BENCH_GC_TRACE=1    V8's --trace-gc-nvp (set at start with v8.setFlagsFromString, as the flag
//                       is not allowed in NODE_OPTIONS): one line per collection with its
//                       phases and bytes, in the mesh log; bench/lib/gc-trace.mjs summarizes it
//   BENCH_GC_STATS=1    garbage collections by kind (count, total and longest pause), printed
//                       to stderr (the mesh log) every 10 s while they happen and at exit
// On the main thread the inspector answers synchronously, so the exit handler can still write.
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";
import { constants, PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";

if (process.env.BENCH_GC_TRACE === "1") v8.setFlagsFromString("--trace-gc-nvp");

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.enable");
  session.post("Profiler.start");
  process.once("exit", () => {
    session.post("Profiler.stop", (err, res) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}

const heapDir = process.env.BENCH_HEAP_PROF_DIR;
if (heapDir) {
  const session = new Session();
  session.connect();
  const all = process.env.BENCH_HEAP_PROF === "all";
  session.post("HeapProfiler.enable");
  session.post("HeapProfiler.startSampling", {
    samplingInterval: 16384,
    includeObjectsCollectedByMinorGC: all,
    includeObjectsCollectedByMajorGC: true,
  });
  process.once("exit", () => {
    session.post("HeapProfiler.stopSampling", (err, res) => {
      if (err) return;
      mkdirSync(heapDir, { recursive: true });
      writeFileSync(join(heapDir, `Heap.${process.pid}.heapprofile`), JSON.stringify(res.profile));
    });
  });
}

if (process.env.BENCH_GC_STATS === "1") {
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
    [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak-callbacks",
  };
  let stats = {};
  let changed = false;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = kinds[e.detail?.kind ?? e.kind] ?? "other";
      stats[k] ??= { count: 0, ms: 0, maxMs: 0 };
      const s = stats[k];
      s.count++;
      s.ms += e.duration;
      s.maxMs = Math.max(s.maxMs, e.duration);
      changed = true;
    }
  }).observe({ entryTypes: ["gc"] });
  const print = () => {
    const round = (x) => Math.round(x * 10) / 10;
    const out = Object.fromEntries(
      Object.entries(stats).map(([k, s]) => [k, { count: s.count, ms: round(s.ms), maxMs: round(s.maxMs) }]),
    );
    process.stderr.write(`bench-gc ${process.pid} ${JSON.stringify(out)}\n`);
    stats = {};
    changed = false;
  };
  setInterval(() => changed && print(), 10_000).unref();
  process.once("exit", print);
}
