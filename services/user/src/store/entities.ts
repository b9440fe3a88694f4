// MikroORM entities of the `users` schema (for admin tooling and schema checks); request
// paths use the plain SQL in profiles.ts, groups.ts and memberships.ts.
import { defineEntity, p } from "@mikro-orm/core";

export const ProfileEntity = defineEntity({
  name: "Profile",
  tableName: "profiles",
  schema: "users",
  properties: {
    id: p.uuid().primary(),
    email: p.text().unique("profiles_email_key"),
    displayName: p.text().fieldName("display_name"),
    avatarUrl: p.text().fieldName("avatar_url"),
    bio: p.text(),
    homeFolderId: p.text().fieldName("home_folder_id"),
    createTime: p.datetime().fieldName("create_time"),
    updateTime: p.datetime().fieldName("update_time"),
  },
});

export const GroupEntity = defineEntity({
  name: "Group",
  tableName: "groups",
  schema: "users",
  properties: {
    id: p.uuid().primary(),
    name: p.text(),
    description: p.text(),
    createdBy: p.uuid().fieldName("created_by"),
    createTime: p.datetime().fieldName("create_time"),
  },
});

export const MembershipEntity = defineEntity({
  name: "Membership",
  tableName: "memberships",
  schema: "users",
  properties: {
    groupId: p.uuid().primary().fieldName("group_id"),
    memberKind: p.text().primary().fieldName("member_kind"),
    memberId: p.uuid().primary().fieldName("member_id"),
    role: p.text(),
    createTime: p.datetime().fieldName("create_time"),
  },
});

export const userEntities = [ProfileEntity, GroupEntity, MembershipEntity];
