// The `files` schema: the tree (files and folders in one table), versions, usage and quotas,
// upload sessions and their parts, share links, a service secret (page tokens), the outbox.
import { outboxTableSql, requestsTableSql, type SqlMigration, sqlMigration } from "@filemesh/kit";

const M001Tree = [
  `
      CREATE TABLE IF NOT EXISTS files.files (
        id uuid PRIMARY KEY,
        owner_id text NOT NULL,
        parent_id uuid REFERENCES files.files (id),
        home_of text UNIQUE,
        kind smallint NOT NULL,
        name text NOT NULL,
        size_bytes bigint NOT NULL DEFAULT 0,
        sha256 text NOT NULL DEFAULT '',
        content_type text NOT NULL DEFAULT '',
        state smallint NOT NULL,
        state_reason text NOT NULL DEFAULT '',
        current_version_id uuid,
        has_thumbnail boolean NOT NULL DEFAULT false,
        etag text NOT NULL,
        acl_revision bigint NOT NULL DEFAULT 0,
        create_time timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
        update_time timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
        trash_time timestamptz,
        trash_root_id uuid,
        trashed_by text,
        CHECK ((parent_id IS NULL) = (home_of IS NOT NULL))
      )`,
  // Names are unique among the live children of a folder.
  "CREATE UNIQUE INDEX IF NOT EXISTS files_live_name_key ON files.files (parent_id, name) WHERE trash_time IS NULL",
  "CREATE INDEX IF NOT EXISTS files_children_time_idx ON files.files (parent_id, update_time DESC, id) WHERE trash_time IS NULL",
  "CREATE INDEX IF NOT EXISTS files_trash_root_idx ON files.files (trash_root_id)",
  `
      CREATE TABLE IF NOT EXISTS files.versions (
        id uuid PRIMARY KEY,
        file_id uuid NOT NULL REFERENCES files.files (id) ON DELETE CASCADE,
        owner_id text NOT NULL,
        object_key text NOT NULL UNIQUE,
        size_bytes bigint NOT NULL,
        sha256 text NOT NULL,
        content_type text NOT NULL,
        state smallint NOT NULL,
        creator text NOT NULL,
        create_time timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
      )`,
  "CREATE INDEX IF NOT EXISTS versions_file_idx ON files.versions (file_id, create_time DESC, id)",
  `
      CREATE TABLE IF NOT EXISTS files.usage (
        user_id text PRIMARY KEY,
        used_bytes bigint NOT NULL DEFAULT 0,
        reserved_bytes bigint NOT NULL DEFAULT 0,
        file_count bigint NOT NULL DEFAULT 0,
        quota_bytes bigint
      )`,
  // Writes retried with the same request_id (AIP-155): the resource the first attempt made.
  `
      CREATE TABLE IF NOT EXISTS files.requests (
        caller text NOT NULL,
        method text NOT NULL,
        request_id text NOT NULL,
        fingerprint text NOT NULL,
        resource_id text NOT NULL DEFAULT '',
        create_time timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (caller, method, request_id)
      )`,
  `
      CREATE TABLE IF NOT EXISTS files.secrets (
        name text PRIMARY KEY,
        value bytea NOT NULL,
        create_time timestamptz NOT NULL DEFAULT now()
      )`,
];

const M002Uploads = [
  `
      CREATE TABLE IF NOT EXISTS files.uploads (
        id uuid PRIMARY KEY,
        owner_id text NOT NULL,
        parent_id uuid NOT NULL,
        name text NOT NULL,
        size_bytes bigint NOT NULL,
        sha256 text NOT NULL DEFAULT '',
        method smallint NOT NULL,
        state smallint NOT NULL,
        committed_bytes bigint NOT NULL DEFAULT 0,
        part_bytes bigint NOT NULL,
        part_count integer NOT NULL,
        object_key text NOT NULL,
        multipart_id text NOT NULL,
        file_id uuid,
        create_time timestamptz NOT NULL DEFAULT now(),
        expire_time timestamptz NOT NULL
      )`,
  "CREATE INDEX IF NOT EXISTS uploads_active_idx ON files.uploads (owner_id, expire_time) WHERE state = 1",
  `
      CREATE TABLE IF NOT EXISTS files.upload_parts (
        upload_id uuid NOT NULL REFERENCES files.uploads (id) ON DELETE CASCADE,
        part_number integer NOT NULL,
        size_bytes bigint NOT NULL,
        etag text NOT NULL,
        PRIMARY KEY (upload_id, part_number)
      )`,
];

const M003Links = [
  `
      CREATE TABLE IF NOT EXISTS files.links (
        id uuid PRIMARY KEY,
        file_id uuid NOT NULL REFERENCES files.files (id) ON DELETE CASCADE,
        token_hash bytea NOT NULL UNIQUE,
        role text NOT NULL,
        expire_time timestamptz,
        max_downloads integer NOT NULL DEFAULT 0,
        downloads integer NOT NULL DEFAULT 0,
        password_hash text,
        creator text NOT NULL,
        create_time timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
      )`,
  "CREATE INDEX IF NOT EXISTS links_file_idx ON files.links (file_id, create_time, id)",
];

// The janitor (handlers/janitor-handlers.ts): rows whose object went missing are marked and
// hidden; a thumbnail is recognised by its key (files.thumbnail_key(k) = thumbnailKey(k) of
// the kit's blob/blob-store.ts, checked by the janitor tests); walks and batches have their indexes.
const janitorSql = [
  "ALTER TABLE files.versions ADD COLUMN IF NOT EXISTS missing_time timestamptz",
  // Set while the file's current version is missing (the file is served as not found).
  "ALTER TABLE files.files ADD COLUMN IF NOT EXISTS missing_time timestamptz",
  `CREATE OR REPLACE FUNCTION files.thumbnail_key(object_key text) RETURNS text
     LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
       SELECT substr(h, 31, 2) || '/' || substr(h, 29, 2) || '/' || substr(h, 1, 8) || '-' ||
         substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' || substr(h, 17, 4) || '-' || substr(h, 21, 12)
       FROM (SELECT encode(sha256(decode('filemesh.thumbnail.v1' || chr(10) || object_key, 'escape')), 'hex') AS h) d
     $$`,
  "CREATE INDEX IF NOT EXISTS versions_thumbnail_key_idx ON files.versions (files.thumbnail_key(object_key))",
  // The walk goes in the store's listing order, bytewise.
  'CREATE INDEX IF NOT EXISTS versions_object_key_c_idx ON files.versions (object_key COLLATE "C")',
  "CREATE INDEX IF NOT EXISTS files_trash_roots_idx ON files.files (trash_time, id) WHERE trash_root_id = id",
  "CREATE INDEX IF NOT EXISTS uploads_overdue_idx ON files.uploads (expire_time, id) WHERE state IN (1, 5)",
  "CREATE INDEX IF NOT EXISTS uploads_live_multipart_idx ON files.uploads (multipart_id) WHERE state IN (1, 5)",
  "CREATE INDEX IF NOT EXISTS uploads_live_object_idx ON files.uploads (object_key) WHERE state IN (1, 5)",
];

export function fileMigrations(outboxSql: string): SqlMigration[] {
  return [
    sqlMigration("001_tree", ...M001Tree),
    sqlMigration("002_uploads", ...M002Uploads),
    sqlMigration("003_links", ...M003Links),
    sqlMigration("004_events", outboxSql),
    // The permission revision of a link's tuple: the anonymous routes check at least that.
    sqlMigration(
      "005_link_revision",
      "ALTER TABLE files.links ADD COLUMN IF NOT EXISTS acl_revision bigint NOT NULL DEFAULT 0",
    ),
    sqlMigration("006_janitor", ...janitorSql),
    // Share-link password guesses per link and client address ('' = the whole link).
    sqlMigration(
      "007_link_password_failures",
      `CREATE TABLE IF NOT EXISTS files.link_password_failures (
        link_id uuid NOT NULL REFERENCES files.links (id) ON DELETE CASCADE,
        client text NOT NULL,
        failures integer NOT NULL DEFAULT 0,
        retry_time timestamptz,
        known boolean NOT NULL DEFAULT false,
        update_time timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (link_id, client)
      )`,
    ),
    // tus uploads (method 3) live in files.uploads too (expiry, quota, the session cap and the
    // janitor apply as to every session): the declared Upload-Length (NULL while deferred; then
    // size_bytes is what is reserved so far), the Upload-Metadata as sent, and the object
    // holding the bytes after the last whole part (tail_key, see services/file/src/tus).
    sqlMigration(
      "008_tus",
      `ALTER TABLE files.uploads ADD COLUMN IF NOT EXISTS tus_length bigint,
        ADD COLUMN IF NOT EXISTS tus_metadata text NOT NULL DEFAULT '',
        ADD COLUMN IF NOT EXISTS tail_key text`,
      "CREATE INDEX IF NOT EXISTS uploads_live_tail_idx ON files.uploads (tail_key) WHERE state IN (1, 5) AND tail_key IS NOT NULL",
    ),
    // When a completion (state COMPLETING) last renewed its lease (store/uploads.ts).
    sqlMigration(
      "009_upload_completion_lease",
      "ALTER TABLE files.uploads ADD COLUMN IF NOT EXISTS lease_time timestamptz",
    ),
    // request_id records in the kit's shape (kit db/idempotency.ts): the answer as bytes (here
    // the resource id; resource_id stays, unused, for replicas of the version before), pruned by
    // create_time.
    sqlMigration(
      "010_kit_requests",
      "ALTER TABLE files.requests ADD COLUMN IF NOT EXISTS response bytea",
      "UPDATE files.requests SET response = convert_to(resource_id, 'UTF8') WHERE response IS NULL AND resource_id <> ''",
      requestsTableSql("files"),
    ),
    // Raw uploads' quota reservations, each held under a lease (store/reservations.ts).
    sqlMigration(
      "011_reservations",
      `CREATE TABLE IF NOT EXISTS files.reservations (
        id uuid PRIMARY KEY,
        owner_id text NOT NULL,
        bytes bigint NOT NULL,
        lease_time timestamptz NOT NULL DEFAULT clock_timestamp()
      )`,
      "CREATE INDEX IF NOT EXISTS reservations_lease_idx ON files.reservations (lease_time)",
    ),
    // When a version still PROCESSING last had its event re-driven (domain/redrive.ts).
    sqlMigration(
      "012_redrive",
      "ALTER TABLE files.versions ADD COLUMN IF NOT EXISTS redrive_time timestamptz",
      "CREATE INDEX IF NOT EXISTS versions_processing_idx ON files.versions (create_time) WHERE state = 2",
    ),
    // Indexes of trash roots and home folders without the NULLs of every other row: a new file
    // no longer adds an entry to either (their look-ups, `= $1`, never match NULL).
    sqlMigration(
      "013_partial_indexes",
      "CREATE INDEX IF NOT EXISTS files_trashed_root_idx ON files.files (trash_root_id) WHERE trash_root_id IS NOT NULL",
      "DROP INDEX IF EXISTS files.files_trash_root_idx",
      "CREATE UNIQUE INDEX IF NOT EXISTS files_home_of_idx ON files.files (home_of) WHERE home_of IS NOT NULL",
      "ALTER TABLE files.files DROP CONSTRAINT IF EXISTS files_home_of_key",
    ),
    // One index on object keys, not two: the unique one is bytewise ("C"), which serves the
    // janitor's walk in the store's order and keeps keys unique all the same (equality under a
    // deterministic collation is bytewise); its look-ups say COLLATE "C" (store/janitor.ts).
    sqlMigration(
      "014_object_key_index",
      'CREATE UNIQUE INDEX IF NOT EXISTS versions_object_key_c_key ON files.versions (object_key COLLATE "C")',
      "ALTER TABLE files.versions DROP CONSTRAINT IF EXISTS versions_object_key_key",
      "DROP INDEX IF EXISTS files.versions_object_key_c_idx",
    ),
  ];
}

/** The service's schema and its migrations, as the service opens its database (and the tests' template, test/global-setup.ts). */
export const fileSchema = {
  schema: "files",
  migrations: (): SqlMigration[] => fileMigrations(outboxTableSql("files")),
};
