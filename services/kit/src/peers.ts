// Clients for the other services of the mesh, with the kit's defaults.
import { authv1 } from "@filemesh/contracts";
import type { JwkLike } from "./auth/jwks.js";
import { INTERNAL_TOKEN_HEADER, SERVICE_HEADER } from "./auth/middleware.js";
import type { CommonConfig } from "./bootstrap.js";
import { type ClientOptions, createPeer } from "./client.js";

type TlsConfig = Pick<CommonConfig, "tlsClients" | "tlsCertFile" | "tlsKeyFile" | "tlsClientCaFile">;

/**
 * Client options for a peer service: with CLIENT_TLS (mesh-less mTLS) the peer is verified
 * against TLS_CLIENT_CA_FILE and this service presents its own TLS_CERT_FILE/TLS_KEY_FILE.
 */
export function peerOptions(config: TlsConfig, addrs: readonly string[]): ClientOptions {
  if (!config.tlsClients) return { addrs };
  return {
    addrs,
    tls: {
      ...(config.tlsClientCaFile ? { caFile: config.tlsClientCaFile } : {}),
      ...(config.tlsCertFile ? { certFile: config.tlsCertFile } : {}),
      ...(config.tlsKeyFile ? { keyFile: config.tlsKeyFile } : {}),
    },
  };
}

/** JWKS from the auth service (GetJwks), for createKeySource. */
export function jwksFromAuthService(
  config: Pick<CommonConfig, "authAddrs" | "clientTimeoutMs"> & TlsConfig,
): {
  fetch: () => Promise<JwkLike[]>;
  close: () => void;
} {
  const client = createPeer(authv1.AuthServiceClient, peerOptions(config, config.authAddrs));
  return {
    fetch: async () =>
      (await client.getJwks({}, { timeoutMs: Math.min(config.clientTimeoutMs, 5_000) })).keys,
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
