// Rows → API messages. Other users see only public fields (id, display name, avatar).
import type { userv1 } from "@filemesh/contracts";
import type { GroupRow } from "../store/groups.js";
import type { MembershipRow } from "../store/memberships.js";
import type { ProfileRow } from "../store/profiles.js";
import { type MemberRef, subjectOf } from "./member-ref.js";

const EMPTY_USER: userv1.User = {
  id: "",
  email: "",
  displayName: "",
  avatarUrl: "",
  bio: "",
  homeFolderId: "",
};

/** Everything: for the user themself. */
export const ownUser = (p: ProfileRow): userv1.User => ({
  id: p.id,
  email: p.email,
  displayName: p.displayName,
  avatarUrl: p.avatarUrl,
  bio: p.bio,
  createTime: p.createTime,
  updateTime: p.updateTime,
  homeFolderId: p.homeFolderId,
});

/** Public fields only: for everyone else. */
export const publicUser = (p: ProfileRow): userv1.User => ({
  ...EMPTY_USER,
  id: p.id,
  displayName: p.displayName,
  avatarUrl: p.avatarUrl,
});

/** Public fields plus the e-mail the caller already knows (exact-match lookup). */
export const lookedUpUser = (p: ProfileRow): userv1.User => ({ ...publicUser(p), email: p.email });

export const groupView = (g: GroupRow, myRole: string): userv1.Group => ({
  id: g.id,
  name: g.name,
  description: g.description,
  createTime: g.createTime,
  myRole,
});

export const memberView = (m: MembershipRow): userv1.GroupMember => ({
  member: subjectOf(m as MemberRef),
  role: m.role,
  createTime: m.createTime,
  displayName: m.displayName,
});
