// Clients of the peers the user service calls (auth, permission, file), each call with the
// service's identity on internal methods and a deadline (the caller's remaining time wins).
import { authv1, filev1, permissionv1 } from "@filemesh/contracts";
import {
  type CommonConfig,
  createPeer,
  type PromiseClient,
  peerOptions,
  serviceIdentity,
} from "@filemesh/kit";

export interface PeerClients {
  auth: PromiseClient<authv1.AuthServiceClient>;
  permission: PromiseClient<permissionv1.PermissionServiceClient>;
  file: PromiseClient<filev1.FileServiceClient>;
  /** Metadata proving "service:user" on internal methods. */
  identity: Record<string, string>;
  timeoutMs: number;
  close(): void;
}

export function createPeerClients(config: CommonConfig): PeerClients {
  const auth = createPeer(authv1.AuthServiceClient, peerOptions(config, config.authAddrs));
  const permission = createPeer(
    permissionv1.PermissionServiceClient,
    peerOptions(config, config.permissionAddrs),
  );
  const file = createPeer(filev1.FileServiceClient, peerOptions(config, config.fileAddrs));
  return {
    auth,
    permission,
    file,
    identity: serviceIdentity("user", config),
    timeoutMs: config.clientTimeoutMs,
    close() {
      auth.close();
      permission.close();
      file.close();
    },
  };
}
