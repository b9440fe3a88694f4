// Reads of acl.tuples: the whole table at one consistent revision (cold start without a
// snapshot), the grants of one file (ListGrants, DeleteGrant), and every tuple naming an object
// (WriteRelations' `forget`).
import { inTransaction } from "@filemesh/kit";
import type pg from "pg";
import type { Tuple } from "../domain/model.js";
import { type Q, readHead } from "./change-log.js";

const PAGE = 50_000;

/** Every tuple and the revision they are at (one REPEATABLE READ transaction, keyset pages). */
export function loadAllTuples(pool: pg.Pool, onTuple: (t: Tuple) => void): Promise<number> {
  return inTransaction(pool, async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await tx.query("SET LOCAL jit = off");
    const { revision } = await readHead(tx);
    let last: unknown[] = ["", "", ""];
    for (;;) {
      const { rows } = await tx.query<[string, string, string, string | null]>({
        text: `SELECT object, relation, subject, (extract(epoch FROM expire_time) * 1000)::bigint
               FROM acl.tuples WHERE (object, relation, subject) > ($1, $2, $3)
               ORDER BY object, relation, subject LIMIT ${PAGE}`,
        values: last,
        rowMode: "array",
      });
      for (const [object, relation, subject, exp] of rows) {
        onTuple({ object, relation, subject, expireAt: exp === null ? 0 : Number(exp) });
      }
      if (rows.length < PAGE) return revision;
      last = rows[rows.length - 1]!.slice(0, 3);
    }
  });
}

export interface GrantRow {
  id: string;
  resource: string;
  subject: string;
  role: string;
  expireTime: Date | null;
  revision: string;
  createTime: Date;
  creator: string;
}

const GRANT_COLUMNS = `id, object AS resource, subject, relation AS role, expire_time AS "expireTime",
  revision, create_time AS "createTime", creator`;
const ROLE_FILTER = "relation IN ('viewer', 'editor', 'owner')";

/** Live grants on a file, by subject, after `afterSubject`. */
export async function listGrantRows(
  q: Q,
  resource: string,
  afterSubject: string,
  limit: number,
): Promise<GrantRow[]> {
  const { rows } = await q.query<GrantRow>(
    `SELECT ${GRANT_COLUMNS} FROM acl.tuples
     WHERE object = $1 AND ${ROLE_FILTER} AND subject > $2 AND (expire_time IS NULL OR expire_time > now())
     ORDER BY subject LIMIT $3`,
    [resource, afterSubject, limit],
  );
  return rows;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function findGrantRow(q: Q, id: string): Promise<GrantRow | undefined> {
  if (!UUID.test(id)) return undefined;
  const { rows } = await q.query<GrantRow>(
    `SELECT ${GRANT_COLUMNS} FROM acl.tuples WHERE id = $1 AND ${ROLE_FILTER}`,
    [id],
  );
  return rows[0];
}

export async function countOwners(q: Q, resource: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM acl.tuples WHERE object = $1 AND relation = 'owner' AND (expire_time IS NULL OR expire_time > now())",
    [resource],
  );
  return rows[0]?.n ?? 0;
}

/** Every tuple (expired ones too) whose object or subject is one of `refs`. */
export async function tuplesNaming(q: Q, refs: readonly string[]): Promise<Tuple[]> {
  const { rows } = await q.query<{ object: string; relation: string; subject: string; exp: string | null }>(
    `SELECT object, relation, subject, (extract(epoch FROM expire_time) * 1000)::bigint AS exp
     FROM acl.tuples WHERE object = ANY($1::text[])
     UNION
     SELECT object, relation, subject, (extract(epoch FROM expire_time) * 1000)::bigint AS exp
     FROM acl.tuples WHERE subject = ANY($1::text[])`,
    [refs],
  );
  return rows.map((r) => ({
    object: r.object,
    relation: r.relation,
    subject: r.subject,
    expireAt: r.exp === null ? 0 : Number(r.exp),
  }));
}
