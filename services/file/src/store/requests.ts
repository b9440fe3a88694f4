// Writes retried with the same request_id (AIP-155) make one resource: the first attempt
// records the id of what it made in its own transaction; a retry (even a concurrent one, which
// waits on the claim) gets that id back. The same id with other parameters is refused.
import { createHash } from "node:crypto";
import type { Queryable } from "@filemesh/kit";
import { type CallContext, invalidArgument } from "@filemesh/kit";

export const fingerprintOf = (...parts: unknown[]): string =>
  createHash("sha256").update(JSON.stringify(parts)).digest("base64url");

/** Runs `work` (which returns the new resource's id) once per caller, method and request id. */
export async function oncePerRequest(
  tx: Queryable,
  ctx: CallContext,
  requestId: string,
  fingerprint: string,
  work: () => Promise<string>,
): Promise<{ id: string; replayed: boolean }> {
  if (!requestId) return { id: await work(), replayed: false };
  if (requestId.length > 128) {
    throw invalidArgument("INVALID_REQUEST_ID", "request_id is too long", [
      { field: "request_id", description: "at most 128 characters" },
    ]);
  }
  const key = [ctx.principal?.subject ?? "anonymous", ctx.method.method, requestId];
  const claimed = await tx.query(
    `INSERT INTO files.requests (caller, method, request_id, fingerprint) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [...key, fingerprint],
  );
  if ((claimed.rowCount ?? 0) === 0) {
    const { rows } = await tx.query<{ fingerprint: string; resource_id: string }>(
      "SELECT fingerprint, resource_id FROM files.requests WHERE caller = $1 AND method = $2 AND request_id = $3",
      key,
    );
    const row = rows[0];
    if (!row || row.fingerprint !== fingerprint || !row.resource_id) {
      throw invalidArgument("REQUEST_ID_REUSED", "request_id was already used with different parameters", [
        { field: "request_id", description: "already used with different parameters" },
      ]);
    }
    return { id: row.resource_id, replayed: true };
  }
  const id = await work();
  await tx.query(
    "UPDATE files.requests SET resource_id = $4 WHERE caller = $1 AND method = $2 AND request_id = $3",
    [...key, id],
  );
  return { id, replayed: false };
}
