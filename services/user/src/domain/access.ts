// Who may do what to a group. Anyone who is not a member (directly or through nesting) gets
// the same NOT_FOUND as for a group that does not exist; members who are not admins get
// PERMISSION_DENIED on changes.
import { notFound, permissionDenied, type Queryable } from "@filemesh/kit";
import { findGroup, type GroupRow } from "../store/groups.js";
import { effectiveRole } from "../store/memberships.js";
import type { Role } from "./validate.js";

export const GROUP_NOT_FOUND = () => notFound("GROUP_NOT_FOUND", "no such group");

/** The group and the caller's effective role in it; NOT_FOUND when the caller cannot see it. */
export async function visibleGroup(
  q: Queryable,
  groupId: string,
  userId: string,
  o: { lock?: boolean } = {},
): Promise<{ group: GroupRow; role: Role }> {
  const group = await findGroup(q, groupId, o.lock ? "update" : undefined);
  const role = group ? await effectiveRole(q, userId, groupId) : "";
  if (!group || role === "") throw GROUP_NOT_FOUND();
  return { group, role };
}

/** As visibleGroup, and PERMISSION_DENIED unless the caller is an admin of the group. */
export async function administeredGroup(q: Queryable, groupId: string, userId: string): Promise<GroupRow> {
  const { group, role } = await visibleGroup(q, groupId, userId, { lock: true });
  if (role !== "admin") throw permissionDenied("NOT_GROUP_ADMIN", "only an admin of the group can change it");
  return group;
}
