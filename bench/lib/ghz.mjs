// ghz: makes sure the pinned binary is there, runs one resolved config, and turns its JSON
// report into the figures the bench reports (OK rps, latency percentiles in ms, statuses).
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Path of the ghz binary, installed with scripts/tools.sh when missing or at another pin. */
export function ensureGhz(root, log) {
  const bin = join(root, ".tools", "bin", "ghz");
  const stamp = join(root, ".tools", "bin", ".ghz.version");
  if (!existsSync(bin) || !existsSync(stamp)) log("bench: installing ghz (scripts/tools.sh ghz)");
  // tools.sh is a no-op when the pinned version is already there, and fixes a stale pin.
  execFileSync(join(root, "scripts", "tools.sh"), ["ghz"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { bin, version: readFileSync(stamp, "utf8").trim() };
}

/** Runs `ghz --config <config> --format json [...extra]`; resolves with the parsed report. */
export async function runGhz({ bin, root, config, extra = [] }) {
  const args = ["--config", config, "--format", "json", ...extra];
  const { stdout } = await run(bin, args, { cwd: root, maxBuffer: 512 * 1024 * 1024 }).catch((err) => {
    throw new Error(`ghz failed (${[bin, ...args].join(" ")}): ${err.stderr?.trim() || err.message}`);
  });
  return { report: JSON.parse(stdout), command: [bin, ...args] };
}

const ms = (ns) => Math.round((ns / 1e6) * 1000) / 1000;

/**
 * Figures from a ghz report. ghz's own `rps` counts failed calls too, so rps here is OK calls
 * per second of run time; the latency percentiles are ghz's, which cover OK calls only.
 */
export function summarize(report) {
  const seconds = report.total / 1e9;
  const ok = report.statusCodeDistribution?.OK ?? 0;
  const pct = Object.fromEntries(
    (report.latencyDistribution ?? []).map((d) => [d.percentage, ms(d.latency)]),
  );
  return {
    seconds: Math.round(seconds * 100) / 100,
    count: report.count,
    ok,
    rps: Math.round((ok / seconds) * 10) / 10,
    latencyMs: {
      mean: ms(report.average),
      p50: pct[50] ?? null,
      p90: pct[90] ?? null,
      p95: pct[95] ?? null,
      p99: pct[99] ?? null,
      max: ms(report.slowest),
    },
    statusCodes: report.statusCodeDistribution ?? {},
    errors: report.errorDistribution ?? {},
  };
}
