// users.acl_intents: the memberships a change is writing through to the permission service.
// Each is committed (on a connection of its own) before its write, and deleted by the change's
// own transaction, so a row outlives only a change that did not commit after its write went
// out — failed, or its replica killed. The repair (domain/acl-repair.ts) then writes the
// membership again as this schema holds it.
import type { Queryable } from "@filemesh/kit";

export interface AclIntent {
  id: string;
  groupId: string;
  /** The member's subject, "user:<id>" or "group:<id>". */
  member: string;
}

/** Records the memberships about to be written; returns their ids (bigint as strings). */
export async function recordIntents(
  q: Queryable,
  items: readonly { groupId: string; member: string }[],
): Promise<string[]> {
  if (items.length === 0) return [];
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO users.acl_intents (group_id, member)
     SELECT * FROM unnest($1::uuid[], $2::text[]) RETURNING id`,
    [items.map((i) => i.groupId), items.map((i) => i.member)],
  );
  return rows.map((r) => r.id);
}

/** Deletes the intents `ids`; returns those that were still there. */
export async function takeIntents(q: Queryable, ids: readonly string[]): Promise<AclIntent[]> {
  if (ids.length === 0) return [];
  const { rows } = await q.query<AclIntent>(
    `DELETE FROM users.acl_intents WHERE id = ANY($1::bigint[])
     RETURNING id, group_id AS "groupId", member`,
    [ids],
  );
  return rows;
}

/** The oldest intents recorded at least `olderThanMs` ago. */
export async function staleIntents(q: Queryable, olderThanMs: number, limit: number): Promise<AclIntent[]> {
  const { rows } = await q.query<AclIntent>(
    `SELECT id, group_id AS "groupId", member FROM users.acl_intents
     WHERE create_time < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY id LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows;
}

/**
 * The next fencing token of a membership write (a cluster-wide sequence). Taken with the groups'
 * row locks held, so the tokens of one group's writes rise in the order their changes hold its
 * lock; nextval is never rolled back, so a change that failed leaves a token no later one reuses.
 */
export async function nextFence(q: Queryable): Promise<string> {
  const { rows } = await q.query<{ fence: string }>("SELECT nextval('users.acl_fence')::text AS fence");
  return rows[0]!.fence;
}
