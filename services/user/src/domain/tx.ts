// The handlers' transactions: a deadlock or serialisation failure between concurrent changes
// is ABORTED CONFLICT_RETRY (the kit's conflictError), not INTERNAL.
import { type CallContext, conflictError, inTransaction, outsideCall } from "@filemesh/kit";
import type pg from "pg";
import type { AclContext, AclWriter } from "../peers/acl.js";
import { membershipUpdates } from "../peers/acl.js";
import { findGroup } from "../store/groups.js";
import { findMembership } from "../store/memberships.js";
import type { UserDeps } from "./deps.js";
import type { MemberRef } from "./member-ref.js";

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
 * first), so the repair cannot overtake a later change. Grants on files to a deleted group that
 * `forget` dropped are not restored.
 */
export async function membershipTx<T>(
  deps: UserDeps,
  ctx: CallContext,
  fn: (tx: pg.PoolClient, acl: AclWriter) => Promise<T>,
): Promise<T> {
  const touched = new Map<string, MemberRef>();
  const acl: AclWriter = (updates, c, forget) => {
    for (const u of updates) {
      const r = u.relation;
      if (!r?.object.startsWith("group:")) continue;
      const [kind, id] = r.subject.split(":");
      if ((kind === "user" || kind === "group") && id) {
        touched.set(`${r.object}|${r.subject}`, { kind, id });
      }
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
      await outsideCall(() => repairMemberships(deps, detached, touched)).catch((e: unknown) =>
        ctx.log.error(
          { err: (e as Error).message, memberships: touched.size },
          "could not repair memberships after a failed change",
        ),
      );
    }
    throw err;
  }
}

/** Writes each membership (key `group:<id>|<subject>`) to the permission service as the database holds it. */
async function repairMemberships(deps: UserDeps, ctx: AclContext, touched: Map<string, MemberRef>) {
  const keys = [...touched.keys()].sort();
  await inTransaction(deps.pool, async (tx) => {
    const groups = [...new Set(keys.map((k) => k.slice("group:".length, k.indexOf("|"))))];
    for (const g of groups) await findGroup(tx, g, "update");
    const updates = [];
    for (const k of keys) {
      const groupId = k.slice("group:".length, k.indexOf("|"));
      const member = touched.get(k)!;
      const row = await findMembership(tx, groupId, member);
      updates.push(...membershipUpdates(groupId, member, row?.role ?? "none"));
    }
    await deps.acl(updates, ctx);
  });
  ctx.log.warn({ memberships: keys.length }, "memberships written again after a failed change");
}
