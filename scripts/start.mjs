// `npm start`: builds (via the npm script), then brings the whole mesh up locally, waits for
// health, prints the URLs and stops everything on Ctrl-C. REPLICAS=n runs n copies of each.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { addrsFor, createMesh, FILE_HTTP_PORT, GATEWAY_PORT, SERVICES } from "./lib/mesh.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const replicas = Number(process.env.REPLICAS ?? 1);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 9) {
  console.error("REPLICAS must be an integer from 1 to 9");
  process.exit(2);
}

const mesh = createMesh({ root, replicas });
let stopping = false;
const shutdown = async (sig) => {
  if (stopping) return;
  stopping = true;
  console.log(`\nstart: ${sig}, stopping…`);
  await mesh.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
try {
  await mesh.start();
} catch (err) {
  if (stopping) await new Promise(() => {}); // the signal handler exits
  console.error(`start: ${err.message}`);
  process.exit(1);
}
const lines = Object.keys(SERVICES).map(
  (s) =>
    `  ${s.padEnd(11)} grpc ${addrsFor(s, replicas).join(", ")}   metrics ${addrsFor(s, replicas)
      .map((a) => `http://${a.replace(/:(\d+)$/, (_, p) => `:${Number(p) + 1000}`)}/metrics`)
      .join(", ")}`,
);
console.log(
  [
    "",
    "filemesh is up:",
    `  gateway     http://127.0.0.1:${GATEWAY_PORT} (REST and gRPC), health http://127.0.0.1:${GATEWAY_PORT}/healthz`,
    `  tus         http://127.0.0.1:${GATEWAY_PORT}/v1/tus/ (proxied to the file service's HTTP port ${FILE_HTTP_PORT})`,
    ...lines,
    "Ctrl-C stops everything.",
    "",
  ].join("\n"),
);
