// Accounts from the auth service (internal GetAccount), for profiles created lazily.
import { type CallContext, Code, decodeServiceError, unavailable } from "@filemesh/kit";
import type { ServiceError } from "@grpc/grpc-js";
import type { PeerClients } from "./clients.js";

export interface AccountInfo {
  id: string;
  email: string;
  displayName: string;
  createTime?: Date | undefined;
}

export type AccountLookup = (userId: string, ctx?: CallContext) => Promise<AccountInfo | undefined>;

/** undefined when auth has no such account; UNAVAILABLE when auth cannot answer. */
export function accountLookup(peers: PeerClients): AccountLookup {
  return async (userId, ctx) => {
    try {
      const res = await peers.auth.getAccount(
        { userId },
        { ctx, timeoutMs: Math.min(peers.timeoutMs, 5_000), metadata: peers.identity },
      );
      const a = res.account;
      if (!a?.id) return undefined;
      return { id: a.id, email: a.email, displayName: a.displayName, createTime: a.createTime };
    } catch (err) {
      const e = decodeServiceError(err as ServiceError);
      if (e.code === Code.NOT_FOUND) return undefined;
      ctx?.log.warn({ code: e.code, reason: e.reason }, "GetAccount failed");
      throw unavailable("AUTH_UNAVAILABLE", "cannot reach the account service right now", 1000);
    }
  };
}
