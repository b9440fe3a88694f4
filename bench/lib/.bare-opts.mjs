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
import grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

const mode = process.argv[2];
if (!["health", "health-async", "raw", "raw-async"].includes(mode)) {
  console.error("usage: bare-grpc-server.mjs health|health-async|raw|raw-async");
  process.exit(2);
}
const server = new grpc.Server(JSON.parse(process.env.OPTS ?? "{}"));
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
