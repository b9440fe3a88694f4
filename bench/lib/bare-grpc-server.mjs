// A grpc-js server with nothing of filemesh in it, answering grpc.health.v1.Health/Check on
// 127.0.0.1:50999, to see what grpc-js and node:http2 do alone (stop 40: its young generation
// under ghz). Modes: health (grpc-health-check, as the services' baseline), health-async (the
// same, answered after a microtask, as the kit answers), raw (an identity codec and a fixed
// answer, at once), raw-async. Run it with V8 flags and drive it with ghz, e.g.
//   node --trace-gc-nvp bench/lib/bare-grpc-server.mjs raw 2>/dev/null | sed 's/^/[bare#0] /' > /tmp/bare.log &
//   .tools/bin/ghz --proto node_modules/grpc-health-check/proto/health/v1/health.proto \
//     --call grpc.health.v1.Health/Check --insecure -c 32 --connections 2 --cpus 1 -z 15s \
//     --timeout 5s -d '{"service":""}' 127.0.0.1:50999
//   node bench/lib/gc-trace.mjs /tmp/bare.log --service bare
// A second argument `untangled` first applies the kit's fix for node:http2's stream Map
// (services/kit/src/grpc/http2-sessions.ts, bundled from the sources): stop 41's finding is that
// without it this server promotes ≈ 2 MiB of finished calls per scavenge after every full
// collection, and with it it does not.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { bundleEntry } from "./bundle.mjs";

const [mode, option] = process.argv.slice(2);
if (
  !["health", "health-async", "raw", "raw-async"].includes(mode) ||
  ![undefined, "untangled"].includes(option)
) {
  console.error("usage: bare-grpc-server.mjs health|health-async|raw|raw-async [untangled]");
  process.exit(2);
}
if (option === "untangled") {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const outDir = mkdtempSync(join(tmpdir(), "bare-grpc-"));
  const bundle = await bundleEntry({ root, entry: "bench/lib/http2-sessions.entry.ts", outDir });
  const { untangleHttp2Sessions } = await import(pathToFileURL(bundle).href);
  untangleHttp2Sessions();
}
const server = new grpc.Server();
const SERVING = Buffer.from([0x08, 0x01]);
const def = {
  check: {
    path: "/grpc.health.v1.Health/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: (b) => b,
    requestDeserialize: (b) => b,
    responseSerialize: (b) => b,
    responseDeserialize: (b) => b,
  },
};
if (mode === "health") {
  const impl = new HealthImplementation();
  impl.setStatus("", "SERVING");
  impl.addToServer(server);
} else if (mode === "raw") {
  server.addService(def, { check: (_call, cb) => cb(null, SERVING) });
} else if (mode === "raw-async") {
  server.addService(def, {
    check: (_call, cb) => {
      Promise.resolve().then(() => cb(null, SERVING));
    },
  });
} else if (mode === "health-async") {
  const impl = new HealthImplementation();
  impl.setStatus("", "SERVING");
  // The same handlers, Check answered after a microtask.
  const deferred = {
    addService: (d, h) =>
      server.addService(d, {
        ...h,
        check: (call, cb) => {
          Promise.resolve().then(() => h.check(call, cb));
        },
      }),
  };
  impl.addToServer(deferred);
}
server.bindAsync("127.0.0.1:50999", grpc.ServerCredentials.createInsecure(), () => console.error("ready"));
process.on("SIGTERM", () => process.exit(0));
