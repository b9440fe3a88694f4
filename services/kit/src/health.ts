import type { Server } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";

/**
 * grpc.health.v1 for "" (the whole server: readiness) and each registered service, plus
 * `liveness`, which is SERVING from start to exit — a replica that is draining or still
 * catching up (NOT_SERVING for readiness) must not be restarted by a liveness probe.
 */
export const LIVENESS = "liveness";

export interface Health {
  set(status: ServingStatus): void;
  readonly status: ServingStatus;
}

export function addHealth(server: Server, services: readonly string[]): Health {
  const impl = new HealthImplementation();
  let current: ServingStatus = "NOT_SERVING";
  const set = (status: ServingStatus) => {
    current = status;
    impl.setStatus("", status);
    for (const s of services) impl.setStatus(s, status);
  };
  set("NOT_SERVING");
  impl.setStatus(LIVENESS, "SERVING");
  impl.addToServer(server);
  return {
    set,
    get status() {
      return current;
    },
  };
}
