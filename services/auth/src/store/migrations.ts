import { outboxTableSql, type SqlMigration, secretsTableSql, sqlMigration } from "@filemesh/kit";

const M001Accounts = [
  `
      CREATE TABLE IF NOT EXISTS auth.accounts (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        display_name text NOT NULL,
        password_hash text NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        password_change_time timestamptz NOT NULL DEFAULT now(),
        disable_time timestamptz,
        disable_reason text NOT NULL DEFAULT '',
        CONSTRAINT accounts_email_key UNIQUE (email)
      )`,
];

// Admin rights live on the account row and are set only by the operator's `npm run admin`
// (scripts/admin.mjs), never derived from an e-mail address anyone can register.
const M003Admin = ["ALTER TABLE auth.accounts ADD COLUMN IF NOT EXISTS admin boolean NOT NULL DEFAULT false"];

export function authMigrations(outboxSql: string): SqlMigration[] {
  return [
    sqlMigration("001_accounts", ...M001Accounts),
    sqlMigration("002_outbox", outboxSql),
    sqlMigration("003_admin", ...M003Admin),
    // auth.secrets: the page-token key every replica shares (kit paging).
    sqlMigration("004_secrets", secretsTableSql("auth")),
  ];
}

/** The service's schema and its migrations, as the service opens its database (and the tests' template, test/global-setup.ts). */
export const authSchema = {
  schema: "auth",
  migrations: (): SqlMigration[] => authMigrations(outboxTableSql("auth")),
};
