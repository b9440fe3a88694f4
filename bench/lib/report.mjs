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
  const l = (x) => `${f(x.p50, 1)} / ${f(x.p95, 1)} / ${f(x.p99, 1)}`;
  return [
    "",
    `### ${s.name} vs raw bcrypt (cost ${b.cost}, ${b.concurrency} in parallel, same run)`,
    "",
    "| | rps | p50 / p95 / p99 ms | one hash alone, p50 ms |",
    "|---|--:|--:|--:|",
    ...b.runs.map(
      (r) =>
        `| raw HMAC + bcrypt.compare ×${r.concurrency}, ${r.when} | ${f(r.rps)} | ${l(r.latencyMs)} | ${f(r.single.latencyMs.p50)} |`,
    ),
    `| **raw, mean** | **${f(b.rps)}** | ${f(b.latencyMs.p50, 1)} / – / ${f(b.latencyMs.p99, 1)} | **${f(b.single.latencyMs.p50)}** |`,
    `| **${s.name} over gRPC** (${s.concurrency} in flight) | **${f(s.result.rps)}** | ${l(s.result.latencyMs)} | |`,
    "",
    `- rps ratio ${s.name} / raw bcrypt = **${f(s.ratio.rps, 3)}**`,
    `- ${s.name} p50 / one-hash p50 = **${f(s.ratio.p50VsSingleHash, 2)}**; ` +
      `${s.name} p50 / raw ×${b.concurrency} p50 = ${f(s.ratio.p50VsParallelHash, 2)} ` +
      `(${b.concurrency} hashes share ${b.cores} cores, so one hash under load takes about ` +
      `${b.concurrency}/${b.cores} × its time alone)`,
  ];
}

export function writeReport(dir, stamp, run) {
  const json = join(dir, `${stamp}.json`);
  const md = join(dir, `${stamp}.md`);
  writeFileSync(json, `${JSON.stringify(run, null, 2)}\n`);
  const m = run.machine;
  const lines = [
    `# filemesh bench ${run.startedAt}`,
    "",
    `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}, ` +
      `UV_THREADPOOL_SIZE ${m.uvThreadpoolSize}; git ${m.git.commit}${m.git.dirty ? " (dirty)" : ""}; ` +
      `load average ${m.loadAverageAtStart.join(" ")} at start, ${run.loadAverageAtEnd.join(" ")} at end.`,
    `Target: ${run.target.mode === "started" ? "mesh started by the runner" : "already running mesh"} ` +
      `at ${run.target.host}; service env ${Object.entries(run.target.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}. ghz ${run.ghz.version}.`,
    "",
    ...scenarioRows(run.scenarios),
    ...run.scenarios.flatMap(baselineLines),
    "",
    "rps counts OK calls only; latencies are of OK calls (ghz). Machine is shared: compare",
    "figures within one run, not across runs.",
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
