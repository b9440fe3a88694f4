import { randomUUID } from "node:crypto";
import { alreadyExists, isUniqueViolation, type Queryable } from "@filemesh/kit";

export interface AccountRow {
  id: string;
  email: string;
  displayName: string;
  passwordHash: string;
  createTime: Date;
  disableTime: Date | null;
  /** Set by the operator (`npm run admin -- grant`), carried into access tokens as `adm`. */
  admin: boolean;
}

const COLUMNS = `id, email, display_name AS "displayName", password_hash AS "passwordHash",
  create_time AS "createTime", disable_time AS "disableTime", admin`;

export async function insertAccount(
  q: Queryable,
  a: { email: string; displayName: string; passwordHash: string },
): Promise<AccountRow> {
  try {
    const { rows } = await q.query<AccountRow>(
      `INSERT INTO auth.accounts (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
      [randomUUID(), a.email, a.displayName, a.passwordHash],
    );
    return rows[0]!;
  } catch (err) {
    if (isUniqueViolation(err, "accounts_email_key")) {
      throw alreadyExists("EMAIL_TAKEN", "an account with this email already exists");
    }
    throw err;
  }
}

export async function findAccountByEmail(q: Queryable, email: string): Promise<AccountRow | undefined> {
  const { rows } = await q.query<AccountRow>(`SELECT ${COLUMNS} FROM auth.accounts WHERE email = $1`, [
    email,
  ]);
  return rows[0];
}

export async function findAccountById(q: Queryable, id: string): Promise<AccountRow | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  const { rows } = await q.query<AccountRow>(`SELECT ${COLUMNS} FROM auth.accounts WHERE id = $1`, [id]);
  return rows[0];
}

export async function updatePasswordHash(q: Queryable, id: string, passwordHash: string): Promise<void> {
  await q.query(
    "UPDATE auth.accounts SET password_hash = $2, password_change_time = now(), update_time = now() WHERE id = $1",
    [id, passwordHash],
  );
}

/** Sets or clears the disabled mark; returns the row, or undefined when no such account. */
export async function setDisabled(
  q: Queryable,
  id: string,
  disabled: boolean,
  reason: string,
): Promise<AccountRow | undefined> {
  const { rows } = await q.query<AccountRow>(
    `UPDATE auth.accounts SET disable_time = CASE WHEN $2 THEN coalesce(disable_time, now()) END,
       disable_reason = CASE WHEN $2 THEN $3 ELSE '' END, update_time = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, disabled, reason],
  );
  return rows[0];
}

/** A page of accounts ordered by email, after `afterEmail`, optionally by email prefix. */
export async function listAccounts(
  q: Queryable,
  o: { afterEmail: string; prefix: string; limit: number },
): Promise<AccountRow[]> {
  const { rows } = await q.query<AccountRow>(
    `SELECT ${COLUMNS} FROM auth.accounts
     WHERE email > $1 AND ($2 = '' OR starts_with(email, $2)) ORDER BY email LIMIT $3`,
    [o.afterEmail, o.prefix, o.limit],
  );
  return rows;
}
