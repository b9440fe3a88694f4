// Writes group memberships through to the permission service (internal WriteRelations) and
// returns its revision. A failure is UNAVAILABLE and the caller's transaction rolls back.
import { randomUUID } from "node:crypto";
import { permissionv1 } from "@filemesh/contracts";
import { type CallContext, decodeServiceError, unavailable } from "@filemesh/kit";
import type { ServiceError } from "@grpc/grpc-js";
import { type MemberRef, subjectOf } from "../domain/member-ref.js";
import type { Role } from "../domain/validate.js";
import type { PeerClients } from "./clients.js";

export type RelationUpdate = permissionv1.RelationUpdate;
/**
 * Applies the updates, then forgets the groups in `forget` ("group:<id>", deleted: every tuple
 * naming one goes — its memberships, its nestings and every grant to it on files), and returns
 * the permission revision that reflects them. Each call gets a fresh request id: the updates
 * themselves are idempotent (TOUCH/DELETE), and a transport retry of the same call carries the
 * same id.
 */
export type AclWriter = (updates: RelationUpdate[], ctx: AclContext, forget?: string[]) => Promise<string>;

/**
 * The peer call under an AclWriter: every write carries a fencing token taken under the groups'
 * row locks (store/acl-intents.ts `nextFence`, called by domain/tx.ts and domain/acl-repair.ts),
 * so the permission service refuses a write that arrives after a later change of the same group
 * — one delayed past its caller's deadline, or sent by a replica that died — instead of letting
 * it undo that change.
 */
export type FencedAclWriter = (
  updates: RelationUpdate[],
  ctx: AclContext,
  fence: string,
  forget?: string[],
) => Promise<string>;

/** What a write takes from the call: its deadline, ids and log (a repair passes one without a deadline). */
export type AclContext = Pick<
  CallContext,
  "deadline" | "requestId" | "traceparent" | "metadata" | "principal" | "log"
>;

/** Updates per WriteRelations call; bigger changes (deleting a large group) are split. */
const CHUNK = 500;
const { RELATION_OPERATION_TOUCH: TOUCH, RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;

const rel = (groupId: string, relation: string, m: MemberRef) => ({
  object: `group:${groupId}`,
  relation,
  subject: subjectOf(m),
});

/**
 * The tuples of one membership: every member has `member`; an admin has `admin` too (so the
 * permission service counts admins as members whatever its reading of `admin`).
 */
export function membershipUpdates(groupId: string, m: MemberRef, role: Role | "none"): RelationUpdate[] {
  return [
    { operation: role === "none" ? DELETE : TOUCH, relation: rel(groupId, "member", m) },
    { operation: role === "admin" ? TOUCH : DELETE, relation: rel(groupId, "admin", m) },
  ];
}

export function aclWriter(peers: PeerClients): FencedAclWriter {
  const write = async (
    updates: RelationUpdate[],
    forget: string[],
    ctx: AclContext,
    requestId: string,
    fencingToken: string,
  ) => {
    try {
      const res = await peers.permission.writeRelations(
        { updates, requestId, forget, fencingToken },
        { ctx, timeoutMs: peers.timeoutMs, metadata: peers.identity },
      );
      return res.revision;
    } catch (err) {
      const e = decodeServiceError(err as ServiceError);
      ctx.log.warn({ code: e.code, reason: e.reason, message: e.message }, "WriteRelations failed");
      // A write given up on (deadline, cancel) may still land later: its fencing token makes
      // the permission service refuse it once a later change of the group was written.
      throw unavailable("PERMISSION_UNAVAILABLE", "cannot update permissions right now; retry", 1000);
    }
  };
  return async (updates, ctx, fence, forget = []) => {
    let revision = "0";
    for (let i = 0; i < Math.max(updates.length, forget.length); i += CHUNK) {
      revision = await write(
        updates.slice(i, i + CHUNK),
        forget.slice(i, i + CHUNK),
        ctx,
        randomUUID(),
        fence,
      );
    }
    return revision;
  };
}
