// The `jobs` schema: the audit log, the consumers' applied-event records, upload results,
// janitor passes.
import { consumedEventsTableSql, type SqlMigration, secretsTableSql, sqlMigration } from "@filemesh/kit";

// One row per event id (the primary key is the "stored once" guarantee). `type` is the
// subject (filemesh.files.file_uploaded), `proto_type` the payload's message name.
const M001AuditEvents = [
  `
      CREATE TABLE IF NOT EXISTS jobs.audit_events (
        event_id uuid PRIMARY KEY,
        type text NOT NULL,
        proto_type text NOT NULL,
        actor text NOT NULL,
        resource text NOT NULL,
        occur_time timestamptz NOT NULL,
        request_id text NOT NULL DEFAULT '',
        traceparent text NOT NULL DEFAULT '',
        payload bytea NOT NULL,
        payload_json jsonb,
        stream text NOT NULL,
        stream_seq bigint NOT NULL,
        record_time timestamptz NOT NULL DEFAULT now()
      )`,
  `CREATE INDEX IF NOT EXISTS audit_events_time_idx
      ON jobs.audit_events (occur_time DESC, event_id DESC)`,
  ...["actor", "resource", "type", "proto_type"].map(
    (column) => `CREATE INDEX IF NOT EXISTS audit_events_${column}_idx
        ON jobs.audit_events (${column}, occur_time DESC, event_id DESC)`,
  ),
];

const M003UploadResults = [
  `
      CREATE TABLE IF NOT EXISTS jobs.upload_results (
        event_id uuid PRIMARY KEY,
        file_id uuid NOT NULL,
        version_id uuid NOT NULL,
        state text NOT NULL,
        reason text NOT NULL DEFAULT '',
        content_type text NOT NULL DEFAULT '',
        has_thumbnail boolean NOT NULL DEFAULT false,
        deliveries integer NOT NULL,
        commit_time timestamptz,
        finish_time timestamptz NOT NULL DEFAULT now()
      )`,
  "CREATE INDEX IF NOT EXISTS upload_results_file_idx ON jobs.upload_results (file_id)",
];

const M004JanitorRuns = [
  `
      CREATE TABLE IF NOT EXISTS jobs.janitor_runs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        trigger text NOT NULL,
        start_time timestamptz NOT NULL,
        finish_time timestamptz NOT NULL DEFAULT now(),
        counts jsonb NOT NULL,
        error text NOT NULL DEFAULT ''
      )`,
];

export function processorMigrations(consumedEventsSql: string): SqlMigration[] {
  return [
    sqlMigration("001_audit_events", ...M001AuditEvents),
    sqlMigration("002_consumed_events", consumedEventsSql),
    sqlMigration("003_upload_results", ...M003UploadResults),
    sqlMigration("004_janitor_runs", ...M004JanitorRuns),
    // jobs.secrets: the page-token key every replica shares (kit paging).
    sqlMigration("005_secrets", secretsTableSql("jobs")),
  ];
}

/** The service's schema and its migrations, as the service opens its database (and the tests' template, test/global-setup.ts). */
export const processorSchema = {
  schema: "jobs",
  migrations: (): SqlMigration[] => processorMigrations(consumedEventsTableSql("jobs")),
};
