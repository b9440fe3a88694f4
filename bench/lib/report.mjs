// Writes a run as bench/results/<stamp>.json (everything) and <stamp>.md (for people).
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const f = (x, digits = 1) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));

function scenarioRows(scenarios) {
  const rows = [
    "| scenario | call | conc. | s | OK calls | rps | p50 ms | p95 ms | p99 ms | non-OK |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
  ];
  for (const s of scenarios) {
    const r = s.result;
    const bad = Object.entries(r.statusCodes).filter(([code]) => code !== "OK");
    rows.push(
      `| ${s.name} | \`${s.call}\` | ${s.concurrency} | ${f(r.seconds)} | ${r.ok} | ${f(r.rps)} | ` +
        `${f(r.latencyMs.p50, 2)} | ${f(r.latencyMs.p95, 2)} | ${f(r.latencyMs.p99, 2)} | ` +
        `${bad.map(([c, n]) => `${c} ${n}`).join(", ") || "none"} |`,
    );
  }
  return rows;
}

function baselineLines(s) {
  const b = s.baseline;
  if (!b) return [];
  const l = (x) => `${f(x.p50)} / ${f(x.p95)} / ${f(x.p99)}`;
  const range = (xs) => `${f(Math.min(...xs), 2)}–${f(Math.max(...xs), 2)}`;
  return [
    "",
    `### ${s.name} vs raw bcrypt (cost ${b.cost}, ${b.concurrency} in parallel, same run)`,
    "",
    `${s.rounds.length} rounds: raw, ${s.name}, raw, … , raw (each ${s.name} segment sits between two raw ones).`,
    "",
    "| | seconds | calls | rps | p50 / p95 / p99 ms |",
    "|---|--:|--:|--:|--:|",
    `| **${s.name} over gRPC**, ${s.concurrency} in flight | ${f(s.result.seconds)} | ${s.result.ok} | **${f(s.result.rps)}** | ${l(s.result.latencyMs)} |`,
    `| **raw HMAC + bcrypt.compare**, ${b.concurrency} in flight | ${f(b.seconds)} | ${b.count} | **${f(b.rps)}** | ${l(b.latencyMs)} |`,
    `| one hash alone (serial) | ${f(b.single.seconds)} | ${b.single.count} | ${f(b.single.rps)} | ${l(b.single.latencyMs)} |`,
    "",
    `- rps ratio ${s.name} / raw bcrypt = **${f(s.ratio.rps, 3)}** (per round ${range(s.rounds.map((r) => r.ratio))}; ` +
      `${s.name} rps per round ${s.rounds.map((r) => f(r.rps)).join(", ")}; raw ${b.segments.map((r) => f(r.rps)).join(", ")})`,
    `- ${s.name} p50 / one-hash p50 = **${f(s.ratio.p50VsSingleHash, 2)}** (pure hashing on an idle ` +
      `machine: ≈ ${f(s.ratio.expected.p50VsSingleHash, 1)}); ${s.name} p50 / raw ×${b.concurrency} p50 = ` +
      `${f(s.ratio.p50VsParallelHash, 2)} (≈ ${f(s.ratio.expected.p50VsParallelHash, 1)}): ${b.concurrency} hashes share ` +
      `${b.cores} cores, and with ${s.concurrency} calls in flight each login also waits in the queue`,
  ];
}

export function writeReport(dir, stamp, run) {
  const json = join(dir, `${stamp}.json`);
  const md = join(dir, `${stamp}.md`);
  writeFileSync(json, `${JSON.stringify(run, null, 2)}\n`);
  const m = run.machine;
  const target = run.target.mode === "started" ? "mesh started by the runner" : "already running mesh";
  const assumed = run.target.envAssumed ? " (assumed, not checked)" : "";
  const env = Object.entries(run.target.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const lines = [
    `# filemesh bench ${run.startedAt}`,
    "",
    `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}, ` +
      `UV_THREADPOOL_SIZE ${m.uvThreadpoolSize}; git ${m.git.commit}${m.git.dirty ? " (dirty)" : ""}; ` +
      `load average ${m.loadAverageAtStart.join(" ")} at start, ${run.loadAverageAtEnd.join(" ")} at end.`,
    `Target: ${target} at ${run.target.host}; service env${assumed} ${env}. ghz ${run.ghz.version}.`,
    "",
    ...scenarioRows(run.scenarios),
    ...run.scenarios.flatMap(baselineLines),
    "",
    "rps counts OK calls only; latencies are nearest-rank percentiles over OK calls. The machine",
    "is shared: compare figures within one run, not across runs.",
    "",
    "## Commands",
    "",
    "```",
    ...run.commands,
    "```",
    "",
  ];
  writeFileSync(md, lines.join("\n"));
  return { json, md };
}
