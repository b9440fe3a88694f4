// users.groups and the caller's view of them (ListGroups: direct memberships, keyset paging).
import type { Queryable } from "@filemesh/kit";
import type { Role } from "../domain/validate.js";

export interface GroupRow {
  id: string;
  name: string;
  description: string;
  createdBy: string;
  createTime: Date;
}

const COLUMNS = `g.id, g.name, g.description, g.created_by AS "createdBy", g.create_time AS "createTime"`;

export async function insertGroup(
  q: Queryable,
  g: { id: string; name: string; description: string; createdBy: string },
): Promise<GroupRow> {
  const { rows } = await q.query<GroupRow>(
    `INSERT INTO users.groups AS g (id, name, description, created_by) VALUES ($1, $2, $3, $4)
     RETURNING ${COLUMNS}`,
    [g.id, g.name, g.description, g.createdBy],
  );
  return rows[0]!;
}

/**
 * The group, optionally locking its row until the transaction ends: "update" serialises the
 * changes of one group; "share" keeps it from being deleted meanwhile (nesting it elsewhere).
 */
export async function findGroup(
  q: Queryable,
  id: string,
  lock?: "update" | "share",
): Promise<GroupRow | undefined> {
  const suffix = lock === "update" ? " FOR UPDATE" : lock === "share" ? " FOR SHARE" : "";
  const { rows } = await q.query<GroupRow>(`SELECT ${COLUMNS} FROM users.groups g WHERE g.id = $1${suffix}`, [
    id,
  ]);
  return rows[0];
}

export async function deleteGroupRow(q: Queryable, id: string): Promise<void> {
  await q.query("DELETE FROM users.groups WHERE id = $1", [id]);
}

export interface MyGroupRow extends GroupRow {
  role: Role;
}

/** Groups `userId` is a direct member of, by name then id, after the cursor. */
export async function listMyGroups(
  q: Queryable,
  userId: string,
  after: { name: string; id: string } | undefined,
  limit: number,
): Promise<MyGroupRow[]> {
  const { rows } = await q.query<MyGroupRow>(
    `SELECT ${COLUMNS}, m.role FROM users.memberships m JOIN users.groups g ON g.id = m.group_id
     WHERE m.member_kind = 'user' AND m.member_id = $1
       AND ($2::text IS NULL OR (g.name COLLATE "C", g.id) > ($2::text COLLATE "C", $3::uuid))
     ORDER BY g.name COLLATE "C", g.id LIMIT $4`,
    [userId, after?.name ?? null, after?.id ?? null, limit],
  );
  return rows;
}
