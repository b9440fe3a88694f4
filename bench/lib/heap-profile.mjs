// Where a service's sampled allocations came from, from the V8 sampling heap profiles a
// BENCH_HEAP_PROF=promoted|all run writes (bench/results/<stamp>/heapprof/Heap.*.heapprofile, one
// per Node service process): bytes by allocating function, and by the stack of callers above it
// (--depth frames), the largest first. The bytes are the sampler's estimate for the whole run.
//   node bench/lib/heap-profile.mjs bench/results/<stamp>/heapprof/Heap.<…>.heapprofile [--top 25] [--depth 4]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, depth: { type: "string", default: "4" } },
});
const top = Number(values.top);
const depth = Number(values.depth);

const short = (frame) => {
  const url = frame.url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\//, "")
    .replace(/.*\/dist\//, "dist/");
  return `${frame.functionName || "(anonymous)"} ${url}${url ? `:${frame.lineNumber + 1}` : ""}`;
};

for (const file of positionals) {
  const { head } = JSON.parse(readFileSync(file, "utf8"));
  const self = new Map();
  const stacks = new Map();
  let total = 0;
  const walk = (node, path) => {
    const here = [short(node.callFrame), ...path];
    const bytes = node.selfSize ?? 0;
    if (bytes > 0) {
      total += bytes;
      self.set(here[0], (self.get(here[0]) ?? 0) + bytes);
      const k = here.slice(0, depth).join("\n    ← ");
      stacks.set(k, (stacks.get(k) ?? 0) + bytes);
    }
    for (const c of node.children ?? []) walk(c, here);
  };
  walk(head, []);
  const mb = (b) => `${(b / 1048576).toFixed(1)} MiB`.padStart(11);
  const pct = (b) => `${((100 * b) / total).toFixed(1)} %`.padStart(7);
  console.log(`${file}: ${mb(total).trim()} sampled`);
  console.log("\nby allocating function:");
  for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${mb(b)} ${pct(b)}  ${k}`);
  console.log(`\nby stack (${depth} frames):`);
  for (const [k, b] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${mb(b)} ${pct(b)}  ${k}`);
}
