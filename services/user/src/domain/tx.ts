// The handlers' transactions: a deadlock or serialisation failure between concurrent changes
// is ABORTED CONFLICT_RETRY (the kit's conflictError), not INTERNAL.
import {
  AppError,
  type CallContext,
  conflictError,
  inTransaction,
  oncePerRequest,
  outsideCall,
  protoCodec,
} from "@filemesh/kit";
import { status } from "@grpc/grpc-js";
import type pg from "pg";
import type { AclContext, AclWriter } from "../peers/acl.js";
import { nextFence, recordIntents, takeIntents } from "../store/acl-intents.js";
import { type Membership, repairMemberships } from "./acl-repair.js";
import type { UserDeps } from "./deps.js";
import { parseMember, subjectOf } from "./member-ref.js";

export async function writeTx<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    return await inTransaction(pool, fn);
  } catch (err) {
    throw conflictError(err) ?? err;
  }
}

/**
 * A transaction that changes memberships and writes them through to the permission service
 * with `acl` (so the answer carries the permission revision). Two stores, one change: when the
 * transaction does not commit after a write went through — a conflict, a lost connection at
 * COMMIT, the caller gone, the replica killed — the permission service would keep a membership
 * the users schema does not have (or lose one it has). So before each write its memberships
 * are recorded as intents, committed on the intent pool's own connection (never a second
 * checkout of the pool the transaction holds), and deleted at once by the transaction: the
 * delete holds their row locks and commits with the change, or is undone with it and the
 * intents are there again. A failed change is repaired at once by this replica
 * (domain/acl-repair.ts); the intents of a replica that died are repaired by any replica's
 * sweep, which waits on those row locks, so it never repairs a change still running. Not
 * covered: grants on files to a deleted group that `forget` dropped are not restored.
 */
export async function membershipTx<T>(
  deps: UserDeps,
  ctx: CallContext,
  fn: (tx: pg.PoolClient, acl: AclWriter) => Promise<T>,
): Promise<T> {
  const touched = new Map<string, Membership>();
  const intents: string[] = [];
  const aclIn =
    (tx: pg.PoolClient): AclWriter =>
    async (updates, c, forget) => {
      const fresh = new Map<string, Membership>();
      for (const { relation: r } of updates) {
        if (!r?.object.startsWith("group:")) continue;
        const key = `${r.object}|${r.subject}`;
        if (touched.has(key) || fresh.has(key)) continue;
        const member = parseMember(r.subject, "subject");
        fresh.set(key, { groupId: r.object.slice("group:".length), member });
      }
      const ids = await recordIntents(
        deps.intentPool,
        [...fresh.values()].map((m) => ({ groupId: m.groupId, member: subjectOf(m.member) })),
      );
      intents.push(...ids);
      for (const [k, m] of fresh) touched.set(k, m);
      if ((await takeIntents(tx, ids)).length !== ids.length) {
        // Only a sweep takes intents, and only old ones: this one waited that long between
        // two statements. Nothing was written yet; the caller retries.
        throw new AppError(status.ABORTED, "CONFLICT_RETRY", "the change stalled; retry", {
          retryAfterMs: 100,
        });
      }
      return deps.acl(updates, c, await nextFence(tx), forget);
    };
  try {
    return await writeTx(deps.pool, (tx) => fn(tx, aclIn(tx)));
  } catch (err) {
    if (touched.size > 0) {
      // Outside the call: its deadline may be what failed it, and the repair must still run.
      const detached: AclContext = {
        deadline: undefined,
        requestId: ctx.requestId,
        traceparent: ctx.traceparent,
        metadata: ctx.metadata,
        principal: ctx.principal,
        log: ctx.log,
      };
      // In the background: the caller gets its UNAVAILABLE now, and its retry and the repair
      // take the group's lock in turn.
      void outsideCall(() => repairMemberships(deps, detached, [...touched.values()], intents));
    }
    throw err;
  }
}

/**
 * membershipTx once per request id (the kit's oncePerRequest, in the same transaction): a retry
 * with the id answers what its first attempt answered, even when that attempt committed and its
 * answer was lost; the same id with other parameters (`fingerprint`) is REQUEST_ID_REUSED. An
 * empty id runs the change every time.
 */
export function membershipTxOnce<T>(
  deps: UserDeps,
  ctx: CallContext,
  once: {
    requestId: string;
    fingerprint: string;
    response: { encode(m: T): { finish(): Uint8Array }; decode(b: Uint8Array): T };
  },
  fn: (tx: pg.PoolClient, acl: AclWriter) => Promise<T>,
): Promise<T> {
  const { requestId, fingerprint, response } = once;
  const codec = protoCodec(response);
  return membershipTx(deps, ctx, (tx, acl) =>
    oncePerRequest(tx, { schema: "users", ctx, requestId, fingerprint, codec }, () => fn(tx, acl)).then(
      (r) => r.value,
    ),
  );
}
