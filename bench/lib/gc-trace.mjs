// The young generation's two modes, from a BENCH_GC_TRACE=1 run's mesh log (V8's --trace-gc-nvp
// lines of one service): per scavenge, whether it copied its survivors within the young
// generation (normal) or promoted them all (bytes promoted ≥ --promoted-mib with none copied),
// its pause, and the full collections between them; then a timeline, one mark per collection
// (`.` normal scavenge, `P` promoting scavenge, `M` full collection).
//   node bench/lib/gc-trace.mjs bench/results/<stamp>/mesh.log [--service permission] [--promoted-mib 1]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    service: { type: "string", default: "permission" },
    "promoted-mib": { type: "string", default: "1" },
  },
});
const threshold = Number(values["promoted-mib"]) * 1048576;
const prefix = `[${values.service}#0]`;

const fieldsOf = (line) => {
  const f = {};
  for (const m of line.matchAll(/([a-z_.]+)=([^ ]+)/g)) f[m[1]] = m[2];
  return f;
};
const mib = (b) => (b / 1048576).toFixed(2);
const ms = (x) => x.toFixed(0);

for (const file of positionals) {
  const rows = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith(prefix) && / gc=(s|mc) /.test(l))
    .map(fieldsOf);
  const modes = { normal: [], promoting: [] };
  const full = [];
  let timeline = "";
  for (const f of rows) {
    const pause = Number(f.pause);
    if (f.gc === "mc") {
      full.push({ pause, before: Number(f.total_size_before), after: Number(f.total_size_after) });
      timeline += "M";
      continue;
    }
    const promoted = Number(f.promoted);
    const copied = Number(f.semi_space_copied ?? 0);
    const mode = promoted >= threshold && copied < promoted / 20 ? "promoting" : "normal";
    modes[mode].push({
      pause,
      promoted,
      survived: Number(f.new_space_survived),
      allocated: Number(f.allocated),
    });
    timeline += mode === "normal" ? "." : "P";
  }
  console.log(`${file} (${values.service}):`);
  for (const [mode, list] of Object.entries(modes)) {
    if (list.length === 0) continue;
    const sum = (k) => list.reduce((a, r) => a + r[k], 0);
    console.log(
      `  ${mode.padEnd(9)} scavenges ${String(list.length).padStart(5)}, pauses ${ms(sum("pause"))} ms ` +
        `(${(sum("pause") / list.length).toFixed(2)} each), per scavenge: allocated ${mib(sum("allocated") / list.length)} MiB, ` +
        `survived ${mib(sum("survived") / list.length)}, promoted ${mib(sum("promoted") / list.length)}`,
    );
  }
  if (full.length) {
    const total = full.reduce((a, r) => a + r.pause, 0);
    const longest = Math.max(...full.map((r) => r.pause));
    const freed = full.reduce((a, r) => a + r.before - r.after, 0) / full.length;
    console.log(
      `  full      collections ${String(full.length).padStart(3)}, pauses ${ms(total)} ms (longest ${ms(longest)}), ` +
        `freed ${mib(freed)} MiB each`,
    );
  }
  for (let i = 0; i < timeline.length; i += 120) console.log(`  ${timeline.slice(i, i + 120)}`);
}
