// Repairs memberships the permission service may hold differently from this schema: a change
// that wrote through and then did not commit (domain/tx.ts). Each is written again as the
// database holds it now, under its group's row lock (which every membership change takes
// first), in a transaction that also deletes its intents (store/acl-intents.ts): only a
// committed repair is known to be ordered before every later change of the group, and an
// intent goes only with the repair that wrote it.
//
// Two callers: the replica whose change failed repairs at once, in the background; and every
// replica sweeps intents older than ACL_REPAIR_AFTER (a replica killed between its write and
// its commit, or a repair that gave up), so a membership is repaired whichever replica dies.
import { inTransaction, type Logger, startPeriodic } from "@filemesh/kit";
import { Metadata } from "@grpc/grpc-js";
import type { AclContext } from "../peers/acl.js";
import { membershipUpdates } from "../peers/acl.js";
import { type AclIntent, nextFence, staleIntents, takeIntents } from "../store/acl-intents.js";
import { findGroup } from "../store/groups.js";
import { findMembership } from "../store/memberships.js";
import type { UserDeps } from "./deps.js";
import { type MemberRef, parseMember } from "./member-ref.js";

/** One membership a change wrote through. */
export interface Membership {
  groupId: string;
  member: MemberRef;
}

/**
 * One attempt: locks the groups, takes the intents `ids`, and writes `memberships` (or, with
 * `onlyTaken`, those whose intent this attempt took — another replica's repair took the rest)
 * as the database holds them. Returns how many were written.
 */
async function repairOnce(
  deps: UserDeps,
  ctx: AclContext,
  memberships: readonly Membership[],
  ids: readonly string[],
  onlyTaken: boolean,
): Promise<number> {
  return inTransaction(deps.pool, async (tx) => {
    const groups = [...new Set(memberships.map((m) => m.groupId))].sort();
    for (const g of groups) await findGroup(tx, g, "update");
    const taken = await takeIntents(tx, ids);
    const todo = onlyTaken ? dedupe(taken.map(membershipOf)) : memberships;
    const updates = [];
    for (const { groupId, member } of todo) {
      const row = await findMembership(tx, groupId, member);
      updates.push(...membershipUpdates(groupId, member, row?.role ?? "none"));
    }
    if (updates.length > 0) await deps.acl(updates, ctx, await nextFence(tx));
    return todo.length;
  });
}

const membershipOf = (i: AclIntent): Membership => ({
  groupId: i.groupId,
  member: parseMember(i.member, "member"),
});

function dedupe(ms: Membership[]): Membership[] {
  const seen = new Map<string, Membership>();
  for (const m of ms) seen.set(`${m.groupId}|${m.member.kind}:${m.member.id}`, m);
  return [...seen.values()];
}

/**
 * The failed change's own repair: retried (backing off) until an attempt commits; gives up after
 * about 30 s, leaving its intents to the sweep.
 */
export async function repairMemberships(
  deps: UserDeps,
  ctx: AclContext,
  memberships: readonly Membership[],
  ids: readonly string[],
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await repairOnce(deps, ctx, memberships, ids, false);
      ctx.log.warn(
        { memberships: memberships.length, attempt },
        "memberships written again after a failed change",
      );
      return;
    } catch (err) {
      if (attempt >= 20) {
        ctx.log.error(
          { err: (err as Error).message, memberships: memberships.length },
          "could not repair memberships after a failed change; the sweep will",
        );
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2_000)));
    }
  }
}

/** Intents repaired per sweep transaction. */
const BATCH = 100;

/** Repairs the intents older than `afterMs`, a batch per transaction; returns how many. */
export async function sweepIntents(deps: UserDeps, ctx: AclContext, afterMs: number): Promise<number> {
  let repaired = 0;
  for (;;) {
    const stale = await staleIntents(deps.pool, afterMs, BATCH);
    if (stale.length === 0) return repaired;
    repaired += await repairOnce(
      deps,
      ctx,
      stale.map(membershipOf),
      stale.map((i) => i.id),
      true,
    );
    if (stale.length < BATCH) return repaired;
  }
}

/** Sweeps every `afterMs / 5` (at least 1 s, at most 30 s); returns the stop function. */
export function startAclRepair(deps: UserDeps, afterMs: number, log: Logger): () => void {
  const ctx: AclContext = { deadline: undefined, requestId: "", metadata: new Metadata(), log };
  return startPeriodic(
    Math.min(30_000, Math.max(1000, Math.floor(afterMs / 5))),
    async () => {
      const n = await sweepIntents(deps, ctx, afterMs);
      if (n) log.warn({ memberships: n }, "memberships written again whose change did not commit");
    },
    log,
    "repairing memberships failed; retried at the next sweep",
  );
}
