// Writes a run as bench/results/<stamp>.json (everything) and <stamp>.md (for people).
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const f = (x, digits = 1) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));

const nonOk = (r) =>
  Object.entries(r.statusCodes)
    .filter(([code]) => !r.okStatuses?.includes(code))
    .map(([c, n]) => `${c} ${n}`)
    .join(", ") || "none";
const answered = (r) => (r.okStatuses && r.okStatuses.join() !== "OK" ? ` (${r.okStatuses.join(", ")})` : "");

function scenarioRows(scenarios) {
  const rows = [
    "| scenario | call | via | conc. | s | answered calls | rps | MiB/s | p50 ms | p95 ms | p99 ms | server CPU µs/call | other statuses |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
  ];
  for (const s of scenarios.filter((x) => x.kind !== "node")) {
    const r = s.result;
    rows.push(
      `| ${s.name} | \`${s.call}\` | ${s.host} | ${s.concurrency} | ${f(r.seconds)} | ${r.ok}${answered(r)} | ${f(r.rps)} | ${f(r.mibPerSec)} | ` +
        `${f(r.latencyMs.p50, 2)} | ${f(r.latencyMs.p95, 2)} | ${f(r.latencyMs.p99, 2)} | ${cpuText(r)} | ${nonOk(r)} |`,
    );
  }
  return rows;
}

const cpuText = (r) =>
  r.cpuUsPerCall
    ? Object.entries(r.cpuUsPerCall)
        .map(([k, us]) => `${k} ${f(us, 0)}`)
        .join(" + ")
    : "–";
const l3 = (x) => `${f(x.p50, 2)} / ${f(x.p95, 2)} / ${f(x.p99, 2)}`;
const range = (xs) => `${f(Math.min(...xs), 2)}–${f(Math.max(...xs), 2)}`;
/** The median of the per-round ratios (said from 5 rounds on: with fewer it is one of them). */
const median = (xs) => {
  const v = xs.filter((x) => x != null).sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const perRound = (xs) => `per round ${range(xs)}${xs.length >= 5 ? `, median ${f(median(xs), 3)}` : ""}`;

function comparisonLines(s) {
  if (!s.comparisons?.length) return [];
  const row = (name, x) =>
    `| ${name} | \`${x.call}\` | ${x.host} | ${x.concurrency} | ${f(x.result.seconds)} | ${x.result.ok} | ` +
    `**${f(x.result.rps)}** | ${f(x.result.mibPerSec)} | ${l3(x.result.latencyMs)} | ${cpuText(x.result)} | ${nonOk(x.result)} |`;
  const lines = [
    "",
    `### ${s.name} vs ${s.comparisons.map((c) => c.baseline.name).join(", ")} (same run, interleaved)`,
    "",
    `${s.comparisons[0].rounds.length} rounds: every baseline runs before the first ${s.name} segment and after each one.` +
      (s.mesh ? ` Mesh: ${s.mesh}.` : ""),
    "",
    "| | call | via | conc. | s | answered | rps | MiB/s | p50 / p95 / p99 ms | server CPU µs/call | other statuses |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    row(`**${s.name}**`, s),
    ...s.comparisons.map((c) => row(c.baseline.name, c.baseline)),
    "",
  ];
  for (const c of s.comparisons) {
    const mib =
      c.ratio.mibPerSec !== undefined
        ? `MiB/s **${f(c.ratio.mibPerSec, 3)}** (${perRound(c.rounds.map((r) => r.mibPerSecRatio))}), `
        : "";
    lines.push(
      `- ${s.name} / ${c.baseline.name}: ${mib}rps **${f(c.ratio.rps, 3)}** (${perRound(c.rounds.map((r) => r.ratio))}), ` +
        `p50 ${f(c.ratio.p50, 2)} ×, p99 ${f(c.ratio.p99, 2)} ×` +
        (c.ratio.cpuPerCall
          ? `; server CPU per call ${Object.entries(c.ratio.cpuPerCall)
              .map(([k, x]) => `${k} ${f(x, 2)} ×`)
              .join(", ")}`
          : ""),
    );
  }
  if (s.alongside) {
    const a = s.alongside;
    const by = Object.entries(a.result.byStatus ?? {}).map(
      ([code, x]) => `${code} ${x.count} calls, p50 / p95 / p99 ${l3(x.latencyMs)} ms`,
    );
    if (s.perSegment) {
      lines.push(
        `- ${s.name} per segment with the load: ${s.perSegment
          .map((x) => `${f(x.rps)} rps, p50 ${f(x.latencyMs.p50, 1)} / p99 ${f(x.latencyMs.p99, 1)} ms`)
          .join("; ")}`,
      );
    }
    lines.push(
      `- alongside each ${s.name} segment (from ${f(a.lead ?? 1, 0)} s before to 0.5 s after it): **${a.name}**, \`${a.call}\`, ` +
        `concurrency ${a.concurrency}, ${f(a.result.seconds)} s in all: ${a.result.ok} OK ` +
        `(${f(a.result.rps)}/s, p50 / p95 / p99 ${l3(a.result.latencyMs)} ms)` +
        (by.length ? `; ${by.join("; ")}` : ""),
    );
  }
  return lines;
}

const cpuPerMiB = (r) =>
  r.cpuMsPerMiB
    ? Object.entries(r.cpuMsPerMiB)
        .map(([k, ms]) => `${k} ${f(ms, 2)}`)
        .join(" + ")
    : "";

/** Memory of the sampled service (bench.memory), CPU per MiB moved, errors by message. */
function extraLines(s) {
  const lines = [];
  const all = [
    s,
    ...(s.comparisons ?? []).map((c) => ({ name: c.baseline.name, result: c.baseline.result })),
  ];
  const perMiB = all.filter((x) => x.result.cpuMsPerMiB);
  if (perMiB.length) {
    lines.push(
      `- CPU ms per MiB moved: ${perMiB.map((x) => `${x.name}: ${cpuPerMiB(x.result)}`).join("; ")}`,
    );
  }
  for (const x of all) {
    const errs = Object.entries(x.result.errors ?? {});
    if (errs.length) {
      lines.push(
        `- ${x.name} errors: ${errs
          .slice(0, 5)
          .map(([m, n]) => `${n}× ${m}`)
          .join("; ")}`,
      );
    }
  }
  const m = s.memory;
  if (m) {
    const peak = (k) => Math.max(...m.segments.map((x) => x[k]?.max ?? 0));
    const idle = (k) => m.idle[k]?.last ?? null;
    const size = s.result.bytes && s.result.ok ? s.result.bytes / s.result.ok / 2 ** 20 : null;
    lines.push(
      `- ${m.service}-service memory while ${s.name} runs (${f(size, 0)} MiB per call): RSS idle ${f(idle("rssMiB"))} MiB, ` +
        `peak **${f(peak("rssMiB"))} MiB** (+${f(peak("rssMiB") - idle("rssMiB"))}); V8 heap used idle ` +
        `${f(idle("heapUsedMiB"))} MiB, peak **${f(peak("heapUsedMiB"))} MiB** (+${f(peak("heapUsedMiB") - idle("heapUsedMiB"))}); ` +
        `per segment RSS peaks ${m.segments.map((x) => f(x.rssMiB?.max)).join(", ")} MiB`,
    );
  }
  if (lines.length && !s.comparisons?.length) lines.unshift("", `### ${s.name}`, "");
  return lines;
}

function nodeLines(s) {
  if (s.kind !== "node") return [];
  const lines = ["", `### ${s.name} (in-process: \`${s.script}\`)`, ""];
  if (s.description) lines.push(s.description, "");
  for (const t of s.tables ?? []) {
    lines.push(`${t.title}:`, "", `| ${t.header.join(" | ")} |`, `|${t.header.map(() => "---").join("|")}|`);
    for (const r of t.rows) lines.push(`| ${r.join(" | ")} |`);
    lines.push("");
  }
  for (const n of s.notes ?? []) lines.push(`- ${n}`);
  return lines;
}

function baselineLines(s) {
  const b = s.baseline;
  if (!b) return [];
  const l = (x) => `${f(x.p50)} / ${f(x.p95)} / ${f(x.p99)}`;
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
      `${f(s.ratio.p50VsParallelHash, 2)} (≈ ${f(s.ratio.expected.p50VsParallelHash, 1)}): up to ${b.concurrency} hashes share ` +
      `${b.cores} cores, and with more than ${b.concurrency} calls in flight each ${s.name} also waits in the queue`,
    `- ${s.name} p50 − one-hash p50 = **${f(s.result.latencyMs.p50 - b.single.latencyMs.p50, 1)} ms**`,
    ...(s.result.cpuUsPerCall?.auth && b.single.cpuMsPerHash
      ? [
          `- CPU: auth-service spends **${f(s.result.cpuUsPerCall.auth / 1000, 1)} ms** per ${s.name} (all threads` +
            (s.idleCpuMsPerSec !== undefined
              ? `; ${f(s.idleCpuMsPerSec, 1)} ms/s of it, ${f(s.idleCpuMsPerSec / s.result.rps, 1)} ms per ${s.name}, is its idle background work)`
              : ")") +
            "; " +
            `one raw check costs ${f(b.single.cpuMsPerHash, 1)} ms alone, ${f(b.cpuMsPerHash, 1)} ms with ` +
            `${b.concurrency} in parallel: a ${s.name} adds ≈ **${f(s.result.cpuUsPerCall.auth / 1000 - b.single.cpuMsPerHash, 1)} ms** of CPU beyond its hash`,
        ]
      : []),
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
    ...run.scenarios.flatMap((s) => [
      ...baselineLines(s),
      ...comparisonLines(s),
      ...(s.kind === "node" ? [] : extraLines(s)),
      ...nodeLines(s),
    ]),
    "",
    "Server CPU µs/call: CPU time (all threads) of the serving process(es) over the segments, from",
    "/proc, per answered call; it moves much less with the neighbours' load than rps and latency do.",
    "rps counts answered calls only (OK unless the scenario expects another status, shown in brackets);",
    "latencies are nearest-rank percentiles over those calls. The machine is shared: compare figures",
    "within one run, not across runs.",
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
