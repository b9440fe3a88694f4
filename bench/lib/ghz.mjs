// ghz: makes sure the pinned binary is there, runs one resolved config, and turns its JSON
// reports into the figures the bench reports (OK rps, latency percentiles in ms, statuses).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec.mjs";
import { latencyStats, round } from "./stats.mjs";

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

const add = (into, from = {}) => {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  return into;
};

/**
 * Figures over one or more ghz reports of the same call. rps = OK calls per second of run
 * time (ghz's own `rps` counts failures too); latencies are over OK calls, from the details.
 */
export function summarize(reports) {
  const seconds = reports.reduce((s, r) => s + r.total / 1e9, 0);
  const statusCodes = reports.reduce((acc, r) => add(acc, r.statusCodeDistribution), {});
  const lat = reports.flatMap((r) =>
    (r.details ?? []).filter((d) => d.status === "OK").map((d) => d.latency / 1e6),
  );
  return {
    seconds: round(seconds, 2),
    count: reports.reduce((s, r) => s + r.count, 0),
    ok: statusCodes.OK ?? 0,
    rps: round((statusCodes.OK ?? 0) / seconds, 1),
    latencyMs: latencyStats(lat),
    statusCodes,
    errors: reports.reduce((acc, r) => add(acc, r.errorDistribution), {}),
  };
}
