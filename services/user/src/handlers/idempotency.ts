// Writes retried with the same request_id (AIP-155): the first attempt's answer is stored in
// its transaction and replayed; the same id with different parameters is refused.
import { createHash } from "node:crypto";
import { type CallContext, failedPrecondition, invalidArgument } from "@filemesh/kit";
import type pg from "pg";
import { claimRequest, type RequestKey, saveResponse } from "../store/requests.js";

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

export const fingerprintOf = (...parts: string[]): string =>
  createHash("sha256").update(JSON.stringify(parts)).digest("base64url");

/**
 * Runs `work` inside `tx` once per (caller, method, request id). Without a request id it just
 * runs. A concurrent retry blocks on the claim until the first attempt commits or rolls back.
 */
export async function onceByRequestId<T>(
  tx: pg.PoolClient,
  o: { ctx: CallContext; requestId: string; fingerprint: string; codec: Codec<T> },
  work: () => Promise<T>,
): Promise<T> {
  if (!o.requestId) return work();
  const key: RequestKey = {
    caller: o.ctx.principal?.subject ?? "anonymous",
    method: o.ctx.method.method,
    requestId: o.requestId,
  };
  const claim = await claimRequest(tx, key, o.fingerprint);
  if (!claim.fresh) {
    if (claim.fingerprint !== o.fingerprint) {
      throw invalidArgument("REQUEST_ID_REUSED", "request_id was already used with different parameters", [
        { field: "request_id", description: "was already used with different parameters" },
      ]);
    }
    if (!claim.response) throw failedPrecondition("REQUEST_IN_PROGRESS", "this request is still in progress");
    return o.codec.decode(claim.response);
  }
  const out = await work();
  await saveResponse(tx, key, o.codec.encode(out).finish());
  return out;
}
