// ghz: makes sure the pinned binary is there, runs one resolved config, and turns its JSON
// reports into the figures the bench reports (OK rps, latency percentiles in ms, statuses).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec.mjs";
import { summarize } from "./stats.mjs";

/** Path and pin of the ghz binary; scripts/tools.sh installs it when missing or stale. */
export function ensureGhz(root) {
  // tools.sh is a no-op when the pinned version is already there.
  execFileSync(join(root, "scripts", "tools.sh"), ["ghz"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const bin = join(root, ".tools", "bin", "ghz");
  return { bin, version: readFileSync(join(root, ".tools", "bin", ".ghz.version"), "utf8").trim() };
}

/** Runs `ghz --config <config> --format json [...extra]` from `root`; resolves with the report. */
export async function runGhz({ bin, root, config, extra = [] }) {
  const args = ["--config", config, "--format", "json", ...extra];
  const stdout = await run(bin, args, { cwd: root });
  return { report: JSON.parse(stdout), command: [bin, ...args] };
}

/** A ghz JSON report as a segment record (see stats.mjs): latencies by status from the details. */
export function ghzRecord(report) {
  const lat = {};
  for (const d of report.details ?? []) {
    lat[d.status] ??= [];
    lat[d.status].push(d.latency / 1e6);
  }
  return {
    seconds: report.total / 1e9,
    statusCodes: { ...report.statusCodeDistribution },
    errors: { ...report.errorDistribution },
    lat,
  };
}

/**
 * Figures over one or more ghz reports of the same call. rps = OK calls per second of run
 * time (ghz's own `rps` counts failures too); latencies are over OK calls, from the details.
 */
export const summarizeGhz = (reports, ok) => summarize(reports.map(ghzRecord), ok);
