// The authorization model (docs/architecture.md §4): object types, relations, roles and the
// permissions they imply. Everything the index, the store and the handlers agree on.

export const ROLES = ["viewer", "editor", "owner"] as const;
export type Role = (typeof ROLES)[number];
export const PERMISSIONS = ["read", "write", "share", "delete"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Rank of a role (0 = none); a higher role implies every lower one. */
export const ROLE_RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };
export const RANK_ROLE = ["", "viewer", "editor", "owner"] as const;

/** The lowest role that grants a permission (README: read viewer+, write/share editor+, delete owner). */
export const PERMISSION_RANK: Record<Permission, number> = { read: 1, write: 2, share: 2, delete: 3 };

/** Group relations: admins are members too. */
export const GROUP_RELATIONS = ["member", "admin"] as const;

/** Ancestors considered for inheritance; a longer chain (or a cycle) stops there: deny-safe. */
export const MAX_DEPTH = 64;

export const isRole = (r: string): r is Role => (ROLES as readonly string[]).includes(r);
export const isPermission = (p: string): p is Permission => (PERMISSIONS as readonly string[]).includes(p);

/**
 * The family a relation belongs to. Writing a relation replaces the others of its family for
 * the same (object, subject): one role per subject on a file, member or admin in a group,
 * and one parent per file (whatever the subject).
 */
export function familyOf(relation: string): readonly string[] {
  if (isRole(relation)) return ROLES;
  if (relation === "member" || relation === "admin") return GROUP_RELATIONS;
  return [relation];
}

/** One tuple `object#relation@subject`, with an optional expiry (epoch ms, 0 = none). */
export interface Tuple {
  object: string;
  relation: string;
  subject: string;
  expireAt: number;
}

export const tupleKey = (t: Pick<Tuple, "object" | "relation" | "subject">): string =>
  `${t.object}#${t.relation}@${t.subject}`;
