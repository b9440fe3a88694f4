import type { Server } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";

/** grpc.health.v1 for "" (the whole server) and each registered service. */
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
  impl.addToServer(server);
  return {
    set,
    get status() {
      return current;
    },
  };
}
