// The handlers' transactions: a deadlock or serialisation failure between concurrent changes
// is ABORTED CONFLICT_RETRY (the kit's conflictError), not INTERNAL.
import { type CallContext, conflictError, inTransaction, outsideCall } from "@filemesh/kit";
import type pg from "pg";
import type { AclContext, AclWriter } from "../peers/acl.js";
import { membershipUpdates } from "../peers/acl.js";
import { findGroup } from "../store/groups.js";
import { findMembership } from "../store/memberships.js";
import type { UserDeps } from "./deps.js";
import { type MemberRef, parseMember } from "./member-ref.js";

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
 * transaction fails after a write went through — a conflict, a lost connection at COMMIT, the
 * caller gone — the permission service would keep a membership the users schema does not
 * have (or lose one it has). So every membership the transaction wrote is then written again
 * as the database holds it now, under its group's row lock (which every membership change takes
 * first), retried until a repair commits, so the repair cannot overtake a later change. Not
 * covered: a replica killed before its repair commits; grants on files to a deleted group that
 * `forget` dropped are not restored.
 */
export async function membershipTx<T>(
  deps: UserDeps,
  ctx: CallContext,
  fn: (tx: pg.PoolClient, acl: AclWriter) => Promise<T>,
): Promise<T> {
  const touched = new Map<string, Membership>();
  const acl: AclWriter = (updates, c, forget) => {
    for (const { relation: r } of updates) {
      if (!r?.object.startsWith("group:")) continue;
      touched.set(`${r.object}|${r.subject}`, {
        groupId: r.object.slice("group:".length),
        member: parseMember(r.subject, "subject"),
      });
    }
    return deps.acl(updates, c, forget);
  };
  try {
    return await writeTx(deps.pool, (tx) => fn(tx, acl));
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
      void outsideCall(() => repairMemberships(deps, detached, touched));
    }
    throw err;
  }
}

/** One membership a failed change wrote through. */
interface Membership {
  groupId: string;
  member: MemberRef;
}

/**
 * Writes each membership to the permission service as the database
 * holds it, under the groups' row locks, until one attempt commits: an attempt whose transaction
 * fails (its connection cut) may have lost its locks before its write landed, so only a
 * committed one is known to be ordered before every later change. Gives up after about 30 s.
 */
async function repairMemberships(deps: UserDeps, ctx: AclContext, touched: Map<string, Membership>) {
  const memberships = [...touched.values()];
  const groups = [...new Set(memberships.map((m) => m.groupId))].sort();
  for (let attempt = 0; ; attempt++) {
    try {
      await inTransaction(deps.pool, async (tx) => {
        for (const g of groups) await findGroup(tx, g, "update");
        const updates = [];
        for (const { groupId, member } of memberships) {
          const row = await findMembership(tx, groupId, member);
          updates.push(...membershipUpdates(groupId, member, row?.role ?? "none"));
        }
        await deps.acl(updates, ctx);
      });
      ctx.log.warn(
        { memberships: memberships.length, attempt },
        "memberships written again after a failed change",
      );
      return;
    } catch (err) {
      if (attempt >= 20) {
        ctx.log.error(
          { err: (err as Error).message, memberships: memberships.length },
          "could not repair memberships after a failed change",
        );
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2_000)));
    }
  }
}
