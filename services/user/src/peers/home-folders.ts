// Home folders from the file service (internal EnsureHomeFolder, idempotent by user id).
// Best effort: while the file service cannot answer (not deployed, NOT_IMPLEMENTED, down),
// profiles keep an empty home_folder_id; after a failure, calls pause for a minute, then the
// next GetMe of a profile without a home folder tries again.
import { type CallContext, decodeServiceError, type Logger } from "@filemesh/kit";
import type { ServiceError } from "@grpc/grpc-js";
import type { PeerClients } from "./clients.js";

export type HomeFolders = (userId: string, ctx?: CallContext) => Promise<string | undefined>;

export function homeFolders(peers: PeerClients, log: Logger, retryAfterMs = 60_000): HomeFolders {
  let pausedUntil = 0;
  return async (userId, ctx) => {
    if (Date.now() < pausedUntil) return undefined;
    try {
      const res = await peers.file.ensureHomeFolder(
        { userId },
        { ctx, timeoutMs: Math.min(peers.timeoutMs, 2_000), metadata: peers.identity },
      );
      return res.folder?.id || undefined;
    } catch (err) {
      const e = decodeServiceError(err as ServiceError);
      // Whatever the failure (not implemented, down, slow), GetMe must not pay for it each time.
      pausedUntil = Date.now() + retryAfterMs;
      (ctx?.log ?? log).debug(
        { code: e.code, reason: e.reason },
        "EnsureHomeFolder failed; home folder left empty",
      );
      return undefined;
    }
  };
}
