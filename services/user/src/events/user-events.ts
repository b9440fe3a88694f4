// The user service's events (proto/filemesh/events/v1/user_events.proto), written to the
// outbox in the transaction of the change they describe.
import { eventsv1 } from "@filemesh/contracts";
import { appendEvents, type CallContext, eventMetaFromCall, makeEvent, type Queryable } from "@filemesh/kit";

const meta = eventMetaFromCall;

export interface UserEvents {
  profileUpdated(userId: string, fields: string[]): Promise<void>;
  groupCreated(groupId: string, name: string): Promise<void>;
  groupDeleted(groupId: string): Promise<void>;
  memberAdded(groupId: string, member: string, role: string, revision: string): Promise<void>;
  memberRemoved(groupId: string, member: string, revision: string): Promise<void>;
}

/** Event writers bound to a transaction and the call that causes them. */
export function userEvents(tx: Queryable, ctx: CallContext): UserEvents {
  const emit = <T extends { meta?: eventsv1.EventMeta | undefined }>(
    event: string,
    codec: { encode(m: T): { finish(): Uint8Array } },
    type: string,
    message: T,
  ) =>
    appendEvents(tx, "users", [
      makeEvent(`filemesh.users.${event}`, `filemesh.events.v1.${type}`, codec, message),
    ]);
  return {
    profileUpdated: (userId, fields) =>
      emit("profile_updated", eventsv1.ProfileUpdated, "ProfileUpdated", {
        meta: meta(ctx, `user:${userId}`),
        userId,
        fields,
      }),
    groupCreated: (groupId, name) =>
      emit("group_created", eventsv1.GroupCreated, "GroupCreated", {
        meta: meta(ctx, `group:${groupId}`),
        groupId,
        name,
      }),
    groupDeleted: (groupId) =>
      emit("group_deleted", eventsv1.GroupDeleted, "GroupDeleted", {
        meta: meta(ctx, `group:${groupId}`),
        groupId,
      }),
    memberAdded: (groupId, member, role, revision) =>
      emit("group_member_added", eventsv1.GroupMemberAdded, "GroupMemberAdded", {
        meta: meta(ctx, `group:${groupId}`),
        groupId,
        member,
        role,
        revision,
      }),
    memberRemoved: (groupId, member, revision) =>
      emit("group_member_removed", eventsv1.GroupMemberRemoved, "GroupMemberRemoved", {
        meta: meta(ctx, `group:${groupId}`),
        groupId,
        member,
        revision,
      }),
  };
}
