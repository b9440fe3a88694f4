// users.profiles: one row per account, created from auth's user_registered event or lazily.
import type { Queryable } from "@filemesh/kit";

export interface ProfileRow {
  id: string;
  email: string;
  displayName: string;
  avatarUrl: string;
  bio: string;
  homeFolderId: string;
  createTime: Date;
  updateTime: Date;
}

const COLUMNS = `id, email, display_name AS "displayName", avatar_url AS "avatarUrl", bio,
  home_folder_id AS "homeFolderId", create_time AS "createTime", update_time AS "updateTime"`;

export async function findProfile(q: Queryable, id: string): Promise<ProfileRow | undefined> {
  const { rows } = await q.query<ProfileRow>(`SELECT ${COLUMNS} FROM users.profiles WHERE id = $1`, [id]);
  return rows[0];
}

export async function findProfileByEmail(q: Queryable, email: string): Promise<ProfileRow | undefined> {
  const { rows } = await q.query<ProfileRow>(`SELECT ${COLUMNS} FROM users.profiles WHERE email = $1`, [
    email,
  ]);
  return rows[0];
}

/** Inserts the profile unless one exists (same id or e-mail); true when this call created it. */
export async function insertProfile(
  q: Queryable,
  p: { id: string; email: string; displayName: string; createTime?: Date | undefined },
): Promise<boolean> {
  const res = await q.query(
    `INSERT INTO users.profiles (id, email, display_name, create_time, update_time)
     VALUES ($1, $2, $3, coalesce($4, now()), coalesce($4, now())) ON CONFLICT DO NOTHING`,
    [p.id, p.email, p.displayName, p.createTime ?? null],
  );
  return (res.rowCount ?? 0) > 0;
}

export async function updateProfile(
  q: Queryable,
  id: string,
  set: Partial<Pick<ProfileRow, "displayName" | "avatarUrl" | "bio">>,
): Promise<ProfileRow | undefined> {
  const { rows } = await q.query<ProfileRow>(
    `UPDATE users.profiles SET
       display_name = coalesce($2, display_name),
       avatar_url = coalesce($3, avatar_url),
       bio = coalesce($4, bio),
       update_time = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, set.displayName ?? null, set.avatarUrl ?? null, set.bio ?? null],
  );
  return rows[0];
}

export async function setHomeFolder(q: Queryable, id: string, folderId: string): Promise<void> {
  await q.query(
    "UPDATE users.profiles SET home_folder_id = $2 WHERE id = $1 AND home_folder_id IS DISTINCT FROM $2",
    [id, folderId],
  );
}

/** Display names of users by id (for member listings). */
export async function displayNames(q: Queryable, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await q.query<{ id: string; displayName: string }>(
    `SELECT id, display_name AS "displayName" FROM users.profiles WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.displayName]));
}
