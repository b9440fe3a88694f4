// files.versions: every stored content of a file (the newest committed one is current).
import { batchedReads, type CallScope, type Queryable } from "@filemesh/kit";
import {
  allColumns,
  FILE_SELECT,
  FILE_SELECT_F,
  type FileRow,
  insertFileStatement,
  isUuid,
  type NewFile,
  numbered,
} from "./files.js";

export interface VersionRow {
  id: string;
  file_id: string;
  owner_id: string;
  object_key: string;
  size_bytes: string;
  sha256: string;
  content_type: string;
  state: number;
  creator: string;
  create_time: Date;
  /** Set when the janitor found the object missing from the store (served as not found). */
  missing_time: Date | null;
}

type NewVersion = Omit<VersionRow, "create_time" | "missing_time">;

/** The INSERT of a version, its parameters numbered from $(from + 1). */
const insertVersionText = (from: number) =>
  `INSERT INTO files.versions (id, file_id, owner_id, object_key, size_bytes, sha256, content_type, state, creator)
     VALUES (${Array.from({ length: 9 }, (_, i) => `$${from + i + 1}`).join(", ")})`;
const versionValues = (v: NewVersion) => [
  v.id,
  v.file_id,
  v.owner_id,
  v.object_key,
  v.size_bytes,
  v.sha256,
  v.content_type,
  v.state,
  v.creator,
];

export async function insertVersion(q: Queryable, v: NewVersion): Promise<VersionRow> {
  const { rows } = await q.query<VersionRow>(
    `${insertVersionText(0)} RETURNING ${VERSION_SELECT}`,
    versionValues(v),
  );
  return rows[0]!;
}

/**
 * A new file's row and its first version in one statement (a new upload's commit): the
 * version's reference to the row is checked at the statement's end, when both exist. A live
 * sibling with the same name raises unique violation files_live_name_key, as insertFile does.
 */
export async function insertFileWithVersion(q: Queryable, f: NewFile, v: NewVersion): Promise<FileRow> {
  const file = insertFileStatement(f);
  const { rows } = await q.query<FileRow>(
    // Its columns named, not `*`: a prepared statement (kit db/prepared.ts), parsed and planned
    // once per connection instead of once per upload.
    `WITH f AS (${file.text}), v AS (${insertVersionText(file.values.length)}) SELECT ${FILE_SELECT} FROM f`,
    [...file.values, ...versionValues(v)],
  );
  return rows[0]!;
}

export async function getVersion(q: Queryable, fileId: string, id: string): Promise<VersionRow | undefined> {
  const { rows } = await q.query<VersionRow>(
    `SELECT ${VERSION_SELECT} FROM files.versions WHERE file_id = $1 AND id = $2`,
    [fileId, id],
  );
  return rows[0];
}

const VERSION_COLUMNS = allColumns<VersionRow>()([
  "id",
  "file_id",
  "owner_id",
  "object_key",
  "size_bytes",
  "sha256",
  "content_type",
  "state",
  "creator",
  "create_time",
  "missing_time",
]);
const VERSION_SELECT = VERSION_COLUMNS.join(", ");
const NO_VERSION = "00000000-0000-0000-0000-000000000000";
const JOINED_VERSION = VERSION_COLUMNS.map((c) => `v.${c} AS "v.${c}"`).join(", ");

/**
 * Every download's query, as a named (prepared) statement: Postgres parses and plans it once
 * per connection, not per download (its CPU per query 130–140 → 32–36 µs in a micro-benchmark
 * here). The columns are named, so a column a later migration adds does not change the
 * statement's result type under a connection that prepared it. Behind PgBouncer's transaction
 * pooling it needs `max_prepared_statements` (the chart sets it; docs/deploy.md "PgBouncer").
 */
const FILE_AND_VERSION = {
  name: "files.file_and_version",
  text: `SELECT ${FILE_SELECT_F}, ${JOINED_VERSION} FROM files.files f
     LEFT JOIN files.versions v ON v.file_id = f.id AND v.id = coalesce($2::uuid, f.current_version_id)
     WHERE f.id = $1`,
};

/** The same read for many (file, version) pairs at once; `k.i` numbers the pairs from 1. */
const FILES_AND_VERSIONS = {
  name: "files.files_and_versions",
  text: `SELECT k.i AS "k.i", ${FILE_SELECT_F}, ${JOINED_VERSION}
     FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(file_id, version_id, i)
     JOIN files.files f ON f.id = k.file_id
     LEFT JOIN files.versions v ON v.file_id = f.id AND v.id = coalesce(k.version_id, f.current_version_id)`,
};

export type FileAndVersion = { file: FileRow; version: VersionRow | undefined };

/**
 * A file and one of its versions (`versionId`, or the current one when empty) in one query: a
 * download's metadata in one round trip instead of two. The version is undefined when the file
 * has no such version (or the id is not a UUID).
 */
export async function getFileAndVersion(
  q: Queryable,
  fileId: string,
  versionId: string,
): Promise<FileAndVersion | undefined> {
  if (!isUuid(fileId)) return undefined;
  const { rows } = await q.query<Record<string, unknown>>({
    ...FILE_AND_VERSION,
    values: [fileId, wantedVersion(versionId)],
  });
  return splitFileAndVersion(rows[0]);
}

/** A version id that is not a UUID names no version (the file is still read: VERSION_NOT_FOUND). */
const wantedVersion = (versionId: string) =>
  versionId === "" ? null : isUuid(versionId) ? versionId : NO_VERSION;

/** A joined row as its file and version, each a new object (callers may share one row). */
function splitFileAndVersion(row: Record<string, unknown> | undefined): FileAndVersion | undefined {
  if (!row) return undefined;
  const file: Record<string, unknown> = {};
  const version: Record<string, unknown> = {};
  for (const k in row) {
    if (k.startsWith("v.")) version[k.slice(2)] = row[k];
    else file[k] = row[k];
  }
  return {
    file: file as unknown as FileRow,
    version: version.id == null ? undefined : (version as unknown as VersionRow),
  };
}

/**
 * `getFileAndVersion` for concurrent downloads: the reads asked during one turn of the event
 * loop go as one statement, `files.files_and_versions` (kit batchedReads: up to 500 pairs, the
 * same pair read once, a lone read the single statement). Each caller gets objects of its own.
 */
export function fileAndVersionReader(
  pool: Queryable,
): (scope: CallScope, fileId: string, versionId: string) => Promise<FileAndVersion | undefined> {
  type Pair = { fileId: string; version: string | null };
  type Row = Record<string, unknown>;
  const read = batchedReads<Pair, Row>({
    key: (p) => `${p.fileId}/${p.version ?? ""}`,
    one: async (p) => (await pool.query<Row>({ ...FILE_AND_VERSION, values: [p.fileId, p.version] })).rows[0],
    many: async (ps) => {
      const { rows } = await pool.query<Row>({
        ...FILES_AND_VERSIONS,
        values: [ps.map((p) => p.fileId), ps.map((p) => p.version)],
      });
      return numbered<Row>(rows, ps.length);
    },
  });
  return async (scope, fileId, versionId) =>
    isUuid(fileId)
      ? splitFileAndVersion(await read(scope, { fileId, version: wantedVersion(versionId) }))
      : undefined;
}

/** Newest first, without missing ones; the cursor is [create_time ISO, id]. */
export async function listVersions(
  q: Queryable,
  fileId: string,
  after: string[],
  limit: number,
): Promise<VersionRow[]> {
  const cond = after.length === 2 ? "AND (create_time, id) < ($3::timestamptz, $4::uuid)" : "";
  const { rows } = await q.query<VersionRow>(
    `SELECT ${VERSION_SELECT} FROM files.versions WHERE file_id = $1 AND missing_time IS NULL ${cond}
     ORDER BY create_time DESC, id DESC LIMIT $2`,
    after.length === 2 ? [fileId, limit, ...after] : [fileId, limit],
  );
  return rows;
}

/** Every version of these files (for a permanent delete). */
export async function versionsOf(q: Queryable, fileIds: string[]): Promise<VersionRow[]> {
  if (fileIds.length === 0) return [];
  const { rows } = await q.query<VersionRow>(
    `SELECT ${VERSION_SELECT} FROM files.versions WHERE file_id = ANY($1::uuid[])`,
    [fileIds],
  );
  return rows;
}

/** The processor's decision on a version (and the content type it found, when it found one). */
export async function setVersionState(
  q: Queryable,
  id: string,
  state: number,
  contentType: string,
): Promise<void> {
  await q.query(
    "UPDATE files.versions SET state = $2, content_type = coalesce(nullif($3, ''), content_type) WHERE id = $1",
    [id, state, contentType],
  );
}
