// users.memberships: direct members of a group (users or groups) with their role, plus the
// transitive questions the handlers ask (effective role of a user, nesting cycles).
import type { Queryable } from "@filemesh/kit";
import type { MemberKind, MemberRef } from "../domain/member-ref.js";
import type { Role } from "../domain/validate.js";

export interface MembershipRow {
  kind: MemberKind;
  id: string;
  role: Role;
  createTime: Date;
  displayName: string;
}

const COLUMNS = `m.member_kind AS kind, m.member_id AS id, m.role, m.create_time AS "createTime",
  coalesce(p.display_name, sg.name, '') AS "displayName"`;
const JOINS = `LEFT JOIN users.profiles p ON m.member_kind = 'user' AND p.id = m.member_id
  LEFT JOIN users.groups sg ON m.member_kind = 'group' AND sg.id = m.member_id`;

// Every group the user belongs to, directly or through nested groups.
const MY_GROUPS = `WITH RECURSIVE mine(id) AS (
    SELECT group_id FROM users.memberships WHERE member_kind = 'user' AND member_id = $1
    UNION
    SELECT m.group_id FROM users.memberships m JOIN mine ON m.member_kind = 'group' AND m.member_id = mine.id
  )`;

/**
 * The user's effective role in a group: "admin" when a direct admin or a member of a group
 * that is an admin; "member" when a member directly or through nesting; "" otherwise.
 */
export async function effectiveRole(q: Queryable, userId: string, groupId: string): Promise<Role | ""> {
  const { rows } = await q.query<{ member: boolean; admin: boolean }>(
    `${MY_GROUPS}
     SELECT EXISTS (SELECT 1 FROM mine WHERE id = $2) AS member,
       EXISTS (SELECT 1 FROM users.memberships a WHERE a.group_id = $2 AND a.role = 'admin'
         AND ((a.member_kind = 'user' AND a.member_id = $1)
           OR (a.member_kind = 'group' AND a.member_id IN (SELECT id FROM mine)))) AS admin`,
    [userId, groupId],
  );
  const r = rows[0];
  return r?.admin ? "admin" : r?.member ? "member" : "";
}

/** Of the given groups, those where the user is an admin through a group it belongs to. */
export async function adminThroughGroups(
  q: Queryable,
  userId: string,
  groupIds: readonly string[],
): Promise<Set<string>> {
  if (groupIds.length === 0) return new Set();
  const { rows } = await q.query<{ id: string }>(
    `${MY_GROUPS}
     SELECT DISTINCT a.group_id AS id FROM users.memberships a
     WHERE a.group_id = ANY($2::uuid[]) AND a.role = 'admin' AND a.member_kind = 'group'
       AND a.member_id IN (SELECT id FROM mine)`,
    [userId, groupIds],
  );
  return new Set(rows.map((r) => r.id));
}

/** True when `groupId` is `memberGroupId` itself or nested (at any depth) inside it. */
/** Serialises changes to group nesting (cycle check and insert) until the transaction ends. */
export async function lockNesting(q: Queryable): Promise<void> {
  await q.query("SELECT pg_advisory_xact_lock(hashtext('filemesh.users.nesting'))");
}

export async function wouldCycle(q: Queryable, groupId: string, memberGroupId: string): Promise<boolean> {
  const { rows } = await q.query(
    `WITH RECURSIVE inside(id) AS (
       SELECT $2::uuid
       UNION
       SELECT m.member_id FROM users.memberships m JOIN inside ON m.group_id = inside.id
       WHERE m.member_kind = 'group'
     ) SELECT 1 FROM inside WHERE id = $1 LIMIT 1`,
    [groupId, memberGroupId],
  );
  return rows.length > 0;
}

export async function findMembership(
  q: Queryable,
  groupId: string,
  m: MemberRef,
): Promise<MembershipRow | undefined> {
  const { rows } = await q.query<MembershipRow>(
    `SELECT ${COLUMNS} FROM users.memberships m ${JOINS}
     WHERE m.group_id = $1 AND m.member_kind = $2 AND m.member_id = $3`,
    [groupId, m.kind, m.id],
  );
  return rows[0];
}

/** Inserts or changes the role of a direct member. */
export async function upsertMembership(
  q: Queryable,
  groupId: string,
  m: MemberRef,
  role: Role,
): Promise<void> {
  await q.query(
    `INSERT INTO users.memberships (group_id, member_kind, member_id, role) VALUES ($1, $2, $3, $4)
     ON CONFLICT (group_id, member_kind, member_id) DO UPDATE SET role = EXCLUDED.role`,
    [groupId, m.kind, m.id, role],
  );
}

export async function deleteMembership(q: Queryable, groupId: string, m: MemberRef): Promise<boolean> {
  const res = await q.query(
    "DELETE FROM users.memberships WHERE group_id = $1 AND member_kind = $2 AND member_id = $3",
    [groupId, m.kind, m.id],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function countAdmins(q: Queryable, groupId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM users.memberships WHERE group_id = $1 AND role = 'admin'",
    [groupId],
  );
  return rows[0]?.n ?? 0;
}

/** Direct members by (kind, id) after the cursor. */
export async function listMembers(
  q: Queryable,
  groupId: string,
  after: MemberRef | undefined,
  limit: number,
): Promise<MembershipRow[]> {
  const { rows } = await q.query<MembershipRow>(
    `SELECT ${COLUMNS} FROM users.memberships m ${JOINS}
     WHERE m.group_id = $1 AND ($2::text IS NULL OR (m.member_kind, m.member_id) > ($2::text, $3::uuid))
     ORDER BY m.member_kind, m.member_id LIMIT $4`,
    [groupId, after?.kind ?? null, after?.id ?? null, limit],
  );
  return rows;
}

/** Every tuple that mentions the group: its own members, and its memberships in parents. */
export async function relationsOfGroup(
  q: Queryable,
  groupId: string,
): Promise<{ groupId: string; member: MemberRef; role: Role }[]> {
  const { rows } = await q.query<{ groupId: string; kind: MemberKind; id: string; role: Role }>(
    `SELECT group_id AS "groupId", member_kind AS kind, member_id AS id, role FROM users.memberships
     WHERE group_id = $1 OR (member_kind = 'group' AND member_id = $1)`,
    [groupId],
  );
  return rows.map((r) => ({ groupId: r.groupId, member: { kind: r.kind, id: r.id }, role: r.role }));
}

/** Groups whose only admin is `groupId` (deleting it would leave them without one). */
export async function soleAdminOf(q: Queryable, groupId: string): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    `SELECT m.group_id AS id FROM users.memberships m
     WHERE m.member_kind = 'group' AND m.member_id = $1 AND m.role = 'admin'
       AND (SELECT count(*) FROM users.memberships a WHERE a.group_id = m.group_id AND a.role = 'admin') = 1`,
    [groupId],
  );
  return rows.map((r) => r.id);
}

export async function deleteMembershipsOf(q: Queryable, groupId: string): Promise<void> {
  await q.query("DELETE FROM users.memberships WHERE member_kind = 'group' AND member_id = $1", [groupId]);
}
