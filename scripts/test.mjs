// `npm test` (after the build): checks that Postgres, Redis and NATS answer, installs the
// tools the tests need, then every test with vitest (the gateway's Go tests among them; its
// summary ends the output).
import { execFileSync, spawnSync } from "node:child_process";
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

const args = process.argv.slice(2);
const vitest = spawnSync(join(root, "node_modules", ".bin", "vitest"), ["run", ...args], {
  cwd: root,
  stdio: "inherit",
});
process.exit(vitest.status ?? 1);
