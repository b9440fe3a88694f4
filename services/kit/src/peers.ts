// Clients for the other services of the mesh, with the kit's defaults.
import { authv1 } from "@filemesh/contracts";
import type { JwkLike } from "./auth/jwks.js";
import { INTERNAL_TOKEN_HEADER, SERVICE_HEADER } from "./auth/middleware.js";
import type { CommonConfig } from "./bootstrap.js";
import { createClient, unary } from "./client.js";

/** JWKS from the auth service (GetJwks), for createKeySource. */
export function jwksFromAuthService(config: Pick<CommonConfig, "authAddrs" | "clientTimeoutMs">): {
  fetch: () => Promise<JwkLike[]>;
  close: () => void;
} {
  const client = createClient(authv1.AuthServiceClient, { addrs: config.authAddrs });
  return {
    fetch: async () =>
      (await unary(client, client.getJwks, {}, { timeoutMs: Math.min(config.clientTimeoutMs, 5_000) })).keys,
    close: () => client.close(),
  };
}

/** Metadata that proves this service's identity on internal methods (INTERNAL_AUTH=token). */
export function serviceIdentity(
  name: string,
  config: Pick<CommonConfig, "internalAuth" | "internalToken">,
): Record<string, string> {
  return config.internalAuth === "token"
    ? { [SERVICE_HEADER]: name, [INTERNAL_TOKEN_HEADER]: config.internalToken }
    : {};
}
