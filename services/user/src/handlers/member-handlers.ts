// AddGroupMember (admins; idempotent by request_id; also changes the role of a member),
// ListGroupMembers (members, paged), RemoveGroupMember (admins, or a user leaving). Each change
// is written through to the permission service in the request and answers its revision.
import { userv1 } from "@filemesh/contracts";
import {
  type CallContext,
  failedPrecondition,
  fingerprintOf,
  type Handlers,
  invalidPageToken,
  notFound,
  pageSize,
  requestIdOf,
} from "@filemesh/kit";
import type pg from "pg";
import { administeredGroup, visibleGroup } from "../domain/access.js";
import { callerOf, type UserDeps } from "../domain/deps.js";
import { type MemberRef, parseMember, subjectOf } from "../domain/member-ref.js";
import { membershipTxOnce } from "../domain/tx.js";
import { isUuid, roleOf, uuidOf } from "../domain/validate.js";
import { memberView } from "../domain/views.js";
import { userEvents } from "../events/user-events.js";
import { membershipUpdates } from "../peers/acl.js";
import { findGroup } from "../store/groups.js";
import {
  countAdmins,
  deleteMembership,
  effectiveRole,
  findMembership,
  listMembers,
  lockNesting,
  upsertMembership,
  wouldCycle,
} from "../store/memberships.js";
import { loadProfile } from "./profile-handlers.js";

type UserHandlers = Handlers<typeof userv1.UserServiceService>;

const MEMBER_NOT_FOUND = () => notFound("MEMBER_NOT_FOUND", "no such member");
const LAST_ADMIN = () =>
  failedPrecondition("LAST_ADMIN", "a group needs at least one admin; add another admin first");

/** The member must exist and, for a group, be visible to the caller; nesting must stay acyclic. */
async function checkNewMember(
  deps: UserDeps,
  tx: pg.PoolClient,
  groupId: string,
  m: MemberRef,
  me: string,
  ctx: CallContext,
): Promise<void> {
  if (m.kind === "user") {
    if (!(await loadProfile(deps, tx, m.id, ctx))) throw MEMBER_NOT_FOUND();
    return;
  }
  // Locked for share: the member group cannot be deleted before this commits.
  if (!(await findGroup(tx, m.id, "share")) || (await effectiveRole(tx, me, m.id)) === "")
    throw MEMBER_NOT_FOUND();
  if (await wouldCycle(tx, groupId, m.id)) {
    throw failedPrecondition(
      "GROUP_CYCLE",
      m.id === groupId
        ? "a group cannot be a member of itself"
        : "the group is already nested inside this member",
    );
  }
}

function memberCursor(c: string[]): MemberRef | undefined {
  if (c.length === 0) return undefined;
  const [kind, id] = c;
  if ((kind === "user" || kind === "group") && id && isUuid(id) && c.length === 2) return { kind, id };
  throw invalidPageToken();
}

export function createMemberHandlers(deps: UserDeps) {
  return {
    async addGroupMember(req, ctx) {
      const me = callerOf(ctx);
      const groupId = uuidOf(req.groupId, "group_id");
      const member = parseMember(req.member, "member");
      const role = roleOf(req.role);
      const requestId = requestIdOf(req.requestId);
      const fingerprint = fingerprintOf(groupId, subjectOf(member), role);
      const once = { requestId, fingerprint, response: userv1.AddGroupMemberResponse };
      return membershipTxOnce(deps, ctx, once, async (tx, acl) => {
        // One nesting change at a time (so two concurrent additions cannot close a cycle
        // together), taken before any row lock so that nesting changes cannot deadlock.
        if (member.kind === "group") await lockNesting(tx);
        await administeredGroup(tx, groupId, me);
        const existing = await findMembership(tx, groupId, member);
        if (!existing) await checkNewMember(deps, tx, groupId, member, me, ctx);
        if (existing?.role === "admin" && role !== "admin" && (await countAdmins(tx, groupId)) <= 1) {
          throw LAST_ADMIN();
        }
        if (existing?.role !== role) await upsertMembership(tx, groupId, member, role);
        // Written even when nothing changed: the revision answered always covers the tuple.
        const revision = await acl(membershipUpdates(groupId, member, role), ctx);
        if (existing?.role !== role) {
          await userEvents(tx, ctx).memberAdded(groupId, subjectOf(member), role, revision);
        }
        const row = await findMembership(tx, groupId, member);
        return { member: memberView(row!), revision };
      });
    },

    async listGroupMembers(req, ctx) {
      const me = callerOf(ctx);
      const groupId = uuidOf(req.groupId, "group_id");
      const size = pageSize(req.pageSize, { default: 50 });
      const binding = { list: "ListGroupMembers", caller: me, filter: [groupId] };
      const cursor = deps.pageTokens.read(req.pageToken, binding);
      await visibleGroup(deps.pool, groupId, me);
      const rows = await listMembers(deps.pool, groupId, memberCursor(cursor), size + 1);
      const page = rows.slice(0, size);
      const last = page.at(-1);
      return {
        members: page.map(memberView),
        nextPageToken: rows.length > size && last ? deps.pageTokens.issue(binding, [last.kind, last.id]) : "",
      };
    },

    async removeGroupMember(req, ctx) {
      const me = callerOf(ctx);
      const groupId = uuidOf(req.groupId, "group_id");
      const member = parseMember(req.memberId, "member_id", { allowBareUserId: true });
      const leaving = member.kind === "user" && member.id === me;
      // With a request id, a retry whose first attempt removed the member (its answer lost)
      // answers that attempt's revision instead of MEMBER_NOT_FOUND.
      const requestId = requestIdOf(req.requestId);
      const fingerprint = fingerprintOf(groupId, subjectOf(member), "removed");
      const once = { requestId, fingerprint, response: userv1.RemoveGroupMemberResponse };
      return membershipTxOnce(deps, ctx, once, async (tx, acl) => {
        if (leaving) await visibleGroup(tx, groupId, me, { lock: true });
        else await administeredGroup(tx, groupId, me);
        const existing = await findMembership(tx, groupId, member);
        if (!existing) throw MEMBER_NOT_FOUND();
        if (existing.role === "admin" && (await countAdmins(tx, groupId)) <= 1) throw LAST_ADMIN();
        await deleteMembership(tx, groupId, member);
        const revision = await acl(membershipUpdates(groupId, member, "none"), ctx);
        await userEvents(tx, ctx).memberRemoved(groupId, subjectOf(member), revision);
        return { revision };
      });
    },
  } satisfies Partial<UserHandlers>;
}
