// The gateway's Go tests (`go test ./...` in gateway/), run as one vitest file so they share the
// run's workers with the rest instead of holding up its start (scripts/test.mjs ran them first,
// alone). SKIP_GO=1 skips them.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

it.skipIf(process.env.SKIP_GO === "1")("the gateway's Go tests pass", { timeout: 600_000 }, async () => {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const go = spawn("go", ["test", "-count=1", "./..."], { cwd: join(ROOT, "gateway") });
    let output = "";
    go.stdout.on("data", (b: Buffer) => {
      output += b.toString();
    });
    go.stderr.on("data", (b: Buffer) => {
      output += b.toString();
    });
    go.once("error", reject);
    go.once("close", (code) => resolve({ code, output }));
  });
  // scripts/test.mjs prints go test's own lines after vitest's summary (CI reads go test's
  // closing lines; vitest's are not among those it reads).
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  writeFileSync(join(ROOT, ".tmp", "go-test.txt"), output);
  // The whole output on failure: which package and test, and why.
  expect(code, output).toBe(0);
  expect(output).toMatch(/^ok\s+\S+\/gateway\/internal\/server/m);
});
