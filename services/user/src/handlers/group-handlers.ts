// CreateGroup (idempotent by request_id; the creator becomes admin), GetGroup, ListGroups
// (the caller's direct memberships, paged), DeleteGroup (admins; every tuple naming the group —
// its memberships, its place in other groups, and every grant to it on files — is deleted in
// the permission service in the same request).
import { randomUUID } from "node:crypto";
import { userv1 } from "@filemesh/contracts";
import {
  failedPrecondition,
  fingerprintOf,
  type Handlers,
  invalidPageToken,
  pageSize,
  requestIdOf,
} from "@filemesh/kit";
import { administeredGroup, visibleGroup } from "../domain/access.js";
import { callerOf, type UserDeps } from "../domain/deps.js";
import { membershipTx, membershipTxOnce } from "../domain/tx.js";
import { descriptionOf, groupNameOf, isUuid, uuidOf } from "../domain/validate.js";
import { groupView } from "../domain/views.js";
import { userEvents } from "../events/user-events.js";
import { membershipUpdates } from "../peers/acl.js";
import { deleteGroupRow, insertGroup, listMyGroups } from "../store/groups.js";
import {
  adminThroughGroups,
  deleteMembershipsOf,
  relationsOfGroup,
  soleAdminOf,
  upsertMembership,
} from "../store/memberships.js";

type UserHandlers = Handlers<typeof userv1.UserServiceService>;

function groupCursor(c: string[]): { name: string; id: string } | undefined {
  if (c.length === 0) return undefined;
  const [name, id] = c;
  if (name !== undefined && id && isUuid(id) && c.length === 2) return { name, id };
  throw invalidPageToken();
}

export function createGroupHandlers(deps: UserDeps) {
  return {
    async createGroup(req, ctx) {
      const me = callerOf(ctx);
      // id, create_time and my_role are the server's: ignored when a caller sets them.
      const name = groupNameOf(req.group?.name ?? "");
      const description = descriptionOf(req.group?.description ?? "");
      const requestId = requestIdOf(req.requestId);
      const fingerprint = fingerprintOf(name, description);
      const once = { requestId, fingerprint, response: userv1.CreateGroupResponse };
      return membershipTxOnce(deps, ctx, once, async (tx, acl) => {
        const group = await insertGroup(tx, { id: randomUUID(), name, description, createdBy: me });
        const creator = { kind: "user", id: me } as const;
        await upsertMembership(tx, group.id, creator, "admin");
        const revision = await acl(membershipUpdates(group.id, creator, "admin"), ctx);
        const events = userEvents(tx, ctx);
        await events.groupCreated(group.id, name);
        await events.memberAdded(group.id, `user:${me}`, "admin", revision);
        ctx.log.info({ group_id: group.id }, "group created");
        return { group: groupView(group, "admin") };
      });
    },

    async getGroup(req, ctx) {
      const { group, role } = await visibleGroup(deps.pool, uuidOf(req.groupId, "group_id"), callerOf(ctx));
      return { group: groupView(group, role) };
    },

    async listGroups(req, ctx) {
      const me = callerOf(ctx);
      const size = pageSize(req.pageSize, { default: 50 });
      const binding = { list: "ListGroups", caller: me };
      const cursor = deps.pageTokens.read(req.pageToken, binding);
      const rows = await listMyGroups(deps.pool, me, groupCursor(cursor), size + 1);
      const page = rows.slice(0, size);
      const viaGroups = await adminThroughGroups(
        deps.pool,
        me,
        page.filter((r) => r.role !== "admin").map((r) => r.id),
      );
      const last = page.at(-1);
      return {
        groups: page.map((g) => groupView(g, viaGroups.has(g.id) ? "admin" : g.role)),
        nextPageToken: rows.length > size && last ? deps.pageTokens.issue(binding, [last.name, last.id]) : "",
      };
    },

    async deleteGroup(req, ctx) {
      const me = callerOf(ctx);
      const groupId = uuidOf(req.groupId, "group_id");
      return membershipTx(deps, ctx, async (tx, acl) => {
        await administeredGroup(tx, groupId, me);
        if ((await soleAdminOf(tx, groupId)).length > 0) {
          throw failedPrecondition(
            "LAST_ADMIN",
            "this group is the only admin of another group; add another admin there first",
          );
        }
        const updates = (await relationsOfGroup(tx, groupId)).flatMap((r) =>
          membershipUpdates(r.groupId, r.member, "none"),
        );
        await deleteMembershipsOf(tx, groupId);
        await deleteGroupRow(tx, groupId);
        // The memberships explicitly too, so a permission replica that predates `forget` (a
        // rolling upgrade) still drops what it did before.
        const revision = await acl(updates, ctx, [`group:${groupId}`]);
        await userEvents(tx, ctx).groupDeleted(groupId);
        ctx.log.info({ group_id: groupId }, "group deleted");
        return { revision };
      });
    },
  } satisfies Partial<UserHandlers>;
}
