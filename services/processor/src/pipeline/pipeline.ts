// The post-upload pipeline: its steps in their declared order, and the runner. Adding a step
// (a virus scanner, say) is one file and one line here.
import { sniffStep } from "./sniff-step.js";
import type { Findings, Rejection, Step, StepDeps, UploadJob } from "./step.js";
import { thumbnailStep } from "./thumbnail-step.js";
import { verifyStep } from "./verify-step.js";

export const UPLOAD_STEPS: readonly Step[] = [sniffStep, verifyStep, thumbnailStep];

export type Outcome =
  | ({ state: "READY" } & Findings)
  | ({ state: "REJECTED"; rejection: Rejection; step: string } & Findings);

/** Runs the steps in order; the first rejection ends it. A throw means "retry later". */
export async function runPipeline(steps: readonly Step[], job: UploadJob, deps: StepDeps): Promise<Outcome> {
  const findings: Findings = { contentType: "application/octet-stream", hasThumbnail: false };
  for (const step of steps) {
    const out = await step.run(job, findings, deps);
    if (!out) continue;
    if ("reject" in out) return { state: "REJECTED", rejection: out.reject, step: step.name, ...findings };
    Object.assign(findings, out.findings);
  }
  return { state: "READY", ...findings };
}

/** The reason shown to the owner: `CODE: sentence`. */
export const reasonOf = (r: Rejection) => `${r.code}: ${r.message}`;
