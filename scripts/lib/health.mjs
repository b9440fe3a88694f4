// grpc.health.v1 client used by the start script, the tests and the bench runner.
import { credentials, loadPackageDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";

const pkg = loadPackageDefinition(loadSync(protoPath, { keepCase: true, enums: String }));
const HealthClient = pkg.grpc.health.v1.Health;

/** Resolves with the serving status of `service` ("" = whole server) at `addr`, or "DOWN". */
export function checkHealth(addr, service = "", timeoutMs = 1000) {
  const client = new HealthClient(addr, credentials.createInsecure());
  return new Promise((resolve) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      resolve(err ? "DOWN" : res.status);
    });
  });
}

/** Polls until SERVING or the timeout; returns whether it became SERVING. */
export async function waitServing(addr, { timeoutMs = 60_000, service = "", isAlive = () => true } = {}) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && isAlive()) {
    if ((await checkHealth(addr, service)) === "SERVING") return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
