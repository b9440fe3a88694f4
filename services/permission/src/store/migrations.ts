import { outboxTableSql, type SqlMigration, secretsTableSql, sqlMigration } from "@filemesh/kit";

// acl.meta holds the head revision (one row: its row lock serialises writers, so revisions
// are gapless and commit in order) and the instance id (names the Redis keys, so a snapshot
// or stream of another database is never mistaken for this one's).
const M001Acl = `
      CREATE TABLE IF NOT EXISTS acl.meta (
        id integer PRIMARY KEY CHECK (id = 1),
        instance uuid NOT NULL,
        revision bigint NOT NULL
      );
      INSERT INTO acl.meta (id, instance, revision) VALUES (1, gen_random_uuid(), 0) ON CONFLICT DO NOTHING;
      CREATE TABLE IF NOT EXISTS acl.tuples (
        object text NOT NULL,
        relation text NOT NULL,
        subject text NOT NULL,
        id uuid NOT NULL,
        expire_time timestamptz,
        creator text NOT NULL DEFAULT '',
        create_time timestamptz NOT NULL DEFAULT now(),
        revision bigint NOT NULL,
        PRIMARY KEY (object, relation, subject),
        CONSTRAINT tuples_id_key UNIQUE (id)
      );
      CREATE INDEX IF NOT EXISTS tuples_subject_idx ON acl.tuples (subject, relation);
      CREATE TABLE IF NOT EXISTS acl.changes (
        revision bigint PRIMARY KEY,
        change bytea NOT NULL,
        request_key text,
        request_hash text,
        response bytea,
        commit_time timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT changes_request_key UNIQUE (request_key)
      );`;

export function aclMigrations(outboxSql: string): SqlMigration[] {
  return [
    sqlMigration("001_acl", M001Acl),
    sqlMigration("002_outbox", outboxSql),
    // acl.secrets: the page-token key every replica shares (kit paging).
    sqlMigration("003_secrets", secretsTableSql("acl")),
    // acl.fences: the greatest fencing token written to each object (store/fences.ts).
    sqlMigration(
      "004_fences",
      "CREATE TABLE IF NOT EXISTS acl.fences (object text PRIMARY KEY, token bigint NOT NULL)",
    ),
  ];
}

/** The service's schema and its migrations, as the service opens its database (and the tests' template, test/global-setup.ts). */
export const permissionSchema = {
  schema: "acl",
  migrations: (): SqlMigration[] => aclMigrations(outboxTableSql("acl")),
};
