// The `users` schema: profiles, groups, direct memberships (users or groups), idempotency
// records of retried writes, a service secret (page tokens), the outbox and the consumer inbox,
// and the memberships being written through to the permission service.
import {
  consumedEventsTableSql,
  outboxTableSql,
  requestsTableSql,
  type SqlMigration,
  sqlMigration,
} from "@filemesh/kit";

const M001Profiles = [
  `
      CREATE TABLE IF NOT EXISTS users.profiles (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        display_name text NOT NULL,
        avatar_url text NOT NULL DEFAULT '',
        bio text NOT NULL DEFAULT '',
        home_folder_id text NOT NULL DEFAULT '',
        create_time timestamptz NOT NULL DEFAULT now(),
        update_time timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT profiles_email_key UNIQUE (email)
      )`,
];

const M002Groups = [
  `
      CREATE TABLE IF NOT EXISTS users.groups (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        created_by uuid NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now()
      )`,
  `
      CREATE TABLE IF NOT EXISTS users.memberships (
        group_id uuid NOT NULL REFERENCES users.groups (id) ON DELETE CASCADE,
        member_kind text NOT NULL CHECK (member_kind IN ('user', 'group')),
        member_id uuid NOT NULL,
        role text NOT NULL CHECK (role IN ('member', 'admin')),
        create_time timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, member_kind, member_id)
      )`,
  "CREATE INDEX IF NOT EXISTS memberships_member_idx ON users.memberships (member_kind, member_id)",
];

// users.requests is the kit's request_id table (db/idempotency.ts), the same DDL.
const M003Requests = [
  requestsTableSql("users"),
  `
      CREATE TABLE IF NOT EXISTS users.secrets (
        name text PRIMARY KEY,
        value bytea NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now()
      )`,
];

// Memberships being written through to the permission service (store/acl-intents.ts).
const M005AclIntents = [
  `
      CREATE TABLE IF NOT EXISTS users.acl_intents (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        group_id uuid NOT NULL,
        member text NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now()
      )`,
  "CREATE INDEX IF NOT EXISTS acl_intents_time_idx ON users.acl_intents (create_time)",
];

export function userMigrations(outboxSql: string, inboxSql: string): SqlMigration[] {
  return [
    sqlMigration("001_profiles", ...M001Profiles),
    sqlMigration("002_groups", ...M002Groups),
    sqlMigration("003_requests", ...M003Requests),
    sqlMigration("004_events", outboxSql, inboxSql),
    sqlMigration("005_acl_intents", ...M005AclIntents),
    // The fencing tokens of membership writes (store/acl-intents.ts nextFence).
    sqlMigration("006_acl_fence", "CREATE SEQUENCE IF NOT EXISTS users.acl_fence"),
  ];
}

/** The service's schema and its migrations, as the service opens its database (and the tests' template, test/global-setup.ts). */
export const userSchema = {
  schema: "users",
  migrations: (): SqlMigration[] => userMigrations(outboxTableSql("users"), consumedEventsTableSql("users")),
};
