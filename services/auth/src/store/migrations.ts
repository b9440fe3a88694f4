import { type MigrationObject, sqlMigration } from "@filemesh/kit";

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

export function authMigrations(outboxSql: string): MigrationObject[] {
  return [sqlMigration("001_accounts", ...M001Accounts), sqlMigration("002_outbox", outboxSql)];
}
