// `npm test` (after the build): checks that Postgres, Redis and NATS answer, installs the
// tools the tests need, then every test with vitest (the gateway's Go tests among them). The
// output ends with vitest's summary, go test's own lines and a plain closing line, "N passed, N failed, N skipped".
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const reachable = (port) =>
  new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, timeout: 2000 });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.once("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });

const missing = [];
for (const [name, port] of [
  ["PostgreSQL", 5432],
  ["Redis", 6379],
  ["NATS", 4222],
]) {
  if (!(await reachable(port))) missing.push(`${name} on 127.0.0.1:${port}`);
}
if (missing.length) {
  console.error(`test: not reachable: ${missing.join(", ")} (.ci/run starts them; see README "Tests")`);
  process.exit(1);
}

// grpcurl and the Go generators serve test/clients (grpcurl calls, the Go client's stubs);
// toxiproxy-server, test/faults.
const tools = ["minio", "helm", "grpcurl", "protoc-gen-go", "protoc-gen-go-grpc", "toxiproxy-server"];
if (process.env.SKIP_TOOLS !== "1") {
  execFileSync(join(root, "scripts", "tools.sh"), tools, { stdio: "inherit" });
  // Debian's Chromium for the console's browser tests (test/console).
  execFileSync(join(root, "scripts", "browser.sh"), { stdio: "inherit" });
}

// The gateway's Go tests run inside vitest (test/deploy/gateway-go.test.ts), beside the rest.

// Vitest's own summary is not a closing line CI reads, so the run ends with a plain one,
// "N passed, N failed, N skipped", counted from vitest's JSON report (stop 28's
// "tests: N passed, …" was not read as one: CI recorded that run as having run no test).
const args = process.argv.slice(2);
const report = join(root, ".tmp", "vitest-report.json");
const goReport = join(root, ".tmp", "go-test.txt");
rmSync(report, { force: true });
rmSync(goReport, { force: true });
const vitest = spawnSync(
  join(root, "node_modules", ".bin", "vitest"),
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...args],
  { cwd: root, stdio: "inherit" },
);
let status = vitest.status ?? 1;
// go test's own lines (test/deploy/gateway-go.test.ts kept them): the run's output then has a
// closing line of a runner CI reads, whatever it makes of the plain one below.
if (existsSync(goReport)) {
  console.log("\ngo test ./... (gateway/, run inside vitest):");
  process.stdout.write(readFileSync(goReport, "utf8"));
}
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, "utf8"));
  const failed = r.numFailedTests + (r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
  if (r.numTotalTests === 0) status ||= 1;
  console.log(
    `\n${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
  );
} else {
  console.log("\nvitest wrote no report\n0 passed, 1 failed");
  status ||= 1;
}
process.exit(status);
