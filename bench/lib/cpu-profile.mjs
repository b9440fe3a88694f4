// Where a service's CPU time went, from the V8 CPU profiles a BENCH_CPU_PROF=1 run writes
// (bench/results/<stamp>/cpuprof/CPU.*.cpuprofile, one per Node service process): self time by
// function and by package or source file, the largest first.
// --skip S leaves out the first S seconds (start-up: module loading, migrations, reflection).
//   node bench/lib/cpu-profile.mjs bench/results/<stamp>/cpuprof/CPU.<…>.cpuprofile [--top 25] [--skip 20]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, skip: { type: "string", default: "0" } },
});
const top = Number(values.top);

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id → µs
  const skipUs = Number(values.skip) * 1e6;
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (t < skipUs) continue;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === "(idle)");
  const idleUs = idle.reduce((a, [, us]) => a + us, 0);
  for (const [id] of idle) self.delete(id);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const where = (url) => {
    if (!url) return "(native / V8)";
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (m) return m[1];
    if (url.startsWith("node:")) return url;
    return url.replace(/^file:\/\//, "").replace(/^.*\/(services|dist)\//, "$1/");
  };
  const fns = new Map();
  const files = new Map();
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    const name = cf.functionName || "(anonymous)";
    const loc = where(cf.url);
    const key = `${name} — ${loc}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    files.set(loc, (files.get(loc) ?? 0) + us);
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  console.log(
    `# ${file}: ${(total / 1e6).toFixed(2)} s busy (${(idleUs / 1e6).toFixed(2)} s idle)${skipUs ? ` after the first ${values.skip} s` : ""}`,
  );
  console.log("\n## self time by package / file");
  for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${pct(us)} ${ms(us)}  ${k}`);
  console.log("\n## self time by function");
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${pct(us)} ${ms(us)}  ${k}`);
  console.log("");
}
