// The suite's figures, bench style: the command, the mesh, then per fault its recovery time and
// counts; printed and written to .tmp/faults/<suite>.md (docs/deploy.md quotes a run).
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { Recovery } from "./checker.js";
import { ROOT } from "./cluster.js";

export function writeReport(suite: string, lines: { recoveries: Recovery[]; notes: string[] }): string {
  const out = [
    `# test/faults/${suite}`,
    "",
    `command: npx vitest run test/faults/${suite}.test.ts${process.env.FAULTS_SOAK ? " (FAULTS_SOAK=1)" : ""}`,
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), shared`,
    ...lines.notes,
    "",
    "| fault | attempts | failed attempts | first success after heal (ms) | last failure after heal (ms) |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...lines.recoveries.map(
      (r) =>
        `| ${r.fault} | ${r.attempts} | ${r.failedAttempts} | ${r.firstSuccessMs} | ${r.lastFailureMs} |`,
    ),
    "",
  ].join("\n");
  const dir = join(ROOT, ".tmp", "faults");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${suite}.md`), out);
  console.log(out);
  return out;
}
