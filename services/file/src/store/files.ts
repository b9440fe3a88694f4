// files.files: the tree. Plain SQL on the hot paths; callers pass a pool or their transaction.
import { randomBytes } from "node:crypto";
import { batchedReads, type CallScope, type Queryable } from "@filemesh/kit";

export const KIND = { FILE: 1, FOLDER: 2 } as const;
export const STATE = { UPLOADING: 1, PROCESSING: 2, READY: 3, REJECTED: 4 } as const;

export interface FileRow {
  id: string;
  owner_id: string;
  parent_id: string | null;
  home_of: string | null;
  kind: number;
  name: string;
  size_bytes: string;
  sha256: string;
  content_type: string;
  state: number;
  state_reason: string;
  current_version_id: string | null;
  has_thumbnail: boolean;
  etag: string;
  acl_revision: string;
  create_time: Date;
  update_time: Date;
  trash_time: Date | null;
  trash_root_id: string | null;
  trashed_by: string | null;
  /** Set while the current version's object is missing from the store (served as not found). */
  missing_time: Date | null;
}

/**
 * A row type's columns, every one of them: a list that leaves a field of `Row` out does not
 * compile. Named columns keep a prepared statement's result type when a migration adds a column
 * under a connection that prepared it (kit db/prepared.ts).
 */
export const allColumns =
  <Row>() =>
  <const C extends readonly (keyof Row)[]>(
    cols: C & ([Exclude<keyof Row, C[number]>] extends [never] ? unknown : never),
  ): C =>
    cols;

export const FILE_COLUMNS = allColumns<FileRow>()([
  "id",
  "owner_id",
  "parent_id",
  "home_of",
  "kind",
  "name",
  "size_bytes",
  "sha256",
  "content_type",
  "state",
  "state_reason",
  "current_version_id",
  "has_thumbnail",
  "etag",
  "acl_revision",
  "create_time",
  "update_time",
  "trash_time",
  "trash_root_id",
  "trashed_by",
  "missing_time",
]);
export const FILE_SELECT = FILE_COLUMNS.join(", ");
/** The file columns, of `f` (a query naming the row `files.files f`). */
export const FILE_SELECT_F = FILE_COLUMNS.map((c) => `f.${c}`).join(", ");

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID.test(s);

// Millisecond precision, so a page cursor (an ISO time) names the row exactly.
const TOUCHED = "update_time = date_trunc('milliseconds', clock_timestamp())";

export const newEtag = (): string => randomBytes(9).toString("base64url");

export async function getFile(q: Queryable, id: string, lock = false): Promise<FileRow | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await q.query<FileRow>(
    `SELECT ${FILE_SELECT} FROM files.files WHERE id = $1${lock ? " FOR UPDATE" : ""}`,
    [id],
  );
  return rows[0];
}

export async function homeFolderOf(q: Queryable, userId: string): Promise<FileRow | undefined> {
  const { rows } = await q.query<FileRow>(`SELECT ${FILE_SELECT} FROM files.files WHERE home_of = $1`, [
    userId,
  ]);
  return rows[0];
}

export interface NewFile {
  id: string;
  ownerId: string;
  parentId: string | null;
  homeOf?: string | null;
  kind: number;
  name: string;
  state: number;
  sizeBytes?: string;
  sha256?: string;
  contentType?: string;
  currentVersionId?: string | null;
  /** The revision of its tuples, when they were written before the row (domain/commit.ts). */
  aclRevision?: string;
}

/** The INSERT of a new row (RETURNING the row), its parameters numbered from $1. */
export function insertFileStatement(f: NewFile): { text: string; values: unknown[] } {
  return {
    text: `INSERT INTO files.files (id, owner_id, parent_id, home_of, kind, name, state, size_bytes, sha256,
       content_type, current_version_id, etag, acl_revision)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${FILE_SELECT}`,
    values: [
      f.id,
      f.ownerId,
      f.parentId,
      f.homeOf ?? null,
      f.kind,
      f.name,
      f.state,
      f.sizeBytes ?? "0",
      f.sha256 ?? "",
      f.contentType ?? "",
      f.currentVersionId ?? null,
      newEtag(),
      f.aclRevision ?? "0",
    ],
  };
}

/** Inserts a row; a live sibling with the same name raises unique violation files_live_name_key. */
export async function insertFile(q: Queryable, f: NewFile): Promise<FileRow> {
  const { text, values } = insertFileStatement(f);
  const { rows } = await q.query<FileRow>(text, values);
  return rows[0]!;
}

/** Sets columns (snake_case names, fixed by callers) and a fresh etag and update time. */
export async function updateFile(
  q: Queryable,
  id: string,
  set: Partial<Record<keyof FileRow, unknown>>,
): Promise<FileRow> {
  const cols = Object.keys(set);
  const assignments = cols.map((c, i) => `${c} = $${i + 2}`);
  const { rows } = await q.query<FileRow>(
    `UPDATE files.files SET ${[...assignments, `etag = $${cols.length + 2}`, TOUCHED].join(", ")}
     WHERE id = $1 RETURNING ${FILE_SELECT}`,
    [id, ...cols.map((c) => set[c as keyof FileRow]), newEtag()],
  );
  return rows[0]!;
}

/**
 * A folder's row and whether a live child of it is named `name` (one statement for an upload's
 * authorisation and its commit's first look at the name).
 */
export async function getFolderAndChild(
  q: Queryable,
  id: string,
  name: string,
): Promise<(FileRow & { name_taken: boolean }) | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await q.query<FileRow & { name_taken: boolean }>(
    `SELECT ${FILE_SELECT_F}, EXISTS (
       SELECT 1 FROM files.files c WHERE c.parent_id = f.id AND c.name = $2 AND c.trash_time IS NULL
     ) AS name_taken
     FROM files.files f WHERE f.id = $1`,
    [id, name],
  );
  return rows[0];
}

/** Rows by id, numbered from 1 in `k.i` (fileReader). */
const FILES_BY_ID = {
  name: "files.files_by_id",
  text: `SELECT k.i AS "k.i", ${FILE_SELECT_F}
     FROM unnest($1::uuid[]) WITH ORDINALITY AS k(id, i) JOIN files.files f ON f.id = k.id`,
};
/** Folders by id with whether a live child has the name (folderAndChildReader). */
const FOLDERS_AND_CHILDREN = {
  name: "files.folders_and_children",
  text: `SELECT k.i AS "k.i", ${FILE_SELECT_F}, EXISTS (
       SELECT 1 FROM files.files c WHERE c.parent_id = f.id AND c.name = k.name AND c.trash_time IS NULL
     ) AS name_taken
     FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS k(id, name, i) JOIN files.files f ON f.id = k.id`,
};

/** The answers of a numbered statement in the order asked, each without its number. */
export function numbered<R>(rows: Record<string, unknown>[], count: number): (R | undefined)[] {
  const answers: (R | undefined)[] = new Array(count);
  for (const { "k.i": i, ...row } of rows) answers[Number(i) - 1] = row as R;
  return answers;
}

/**
 * `getFile` outside a transaction for concurrent callers (authorize, a folder to upload into):
 * the reads of one turn of the event loop as one statement (kit batchedReads). Each caller
 * gets a row of its own.
 */
export function fileReader(pool: Queryable): (scope: CallScope, id: string) => Promise<FileRow | undefined> {
  const read = batchedReads<string, FileRow>({
    key: (id) => id,
    one: (id) => getFile(pool, id),
    many: async (ids) => numbered((await pool.query({ ...FILES_BY_ID, values: [ids] })).rows, ids.length),
  });
  return async (scope, id) => {
    if (!isUuid(id)) return undefined;
    const row = await read(scope, id);
    return row && { ...row };
  };
}

/** `getFolderAndChild` likewise (UploadFile's folder, read with whether the name is taken). */
export function folderAndChildReader(
  pool: Queryable,
): (scope: CallScope, id: string, name: string) => Promise<(FileRow & { name_taken: boolean }) | undefined> {
  type Row = FileRow & { name_taken: boolean };
  const read = batchedReads<{ id: string; name: string }, Row>({
    key: (k) => `${k.id}/${k.name}`,
    one: (k) => getFolderAndChild(pool, k.id, k.name),
    many: async (ks) =>
      numbered(
        (await pool.query({ ...FOLDERS_AND_CHILDREN, values: [ks.map((k) => k.id), ks.map((k) => k.name)] }))
          .rows,
        ks.length,
      ),
  });
  return async (scope, id, name) => {
    if (!isUuid(id)) return undefined;
    const row = await read(scope, { id, name });
    return row && { ...row };
  };
}

export async function liveChildByName(
  q: Queryable,
  parentId: string,
  name: string,
  lock = false,
): Promise<FileRow | undefined> {
  const { rows } = await q.query<FileRow>(
    `SELECT ${FILE_SELECT} FROM files.files WHERE parent_id = $1 AND name = $2 AND trash_time IS NULL${lock ? " FOR UPDATE" : ""}`,
    [parentId, name],
  );
  return rows[0];
}

export type ListOrder = "name" | "time";

/** A page of live children (not missing); the cursor is the sort key of the last row served. */
export async function listChildren(
  q: Queryable,
  parentId: string,
  order: ListOrder,
  after: string[],
  limit: number,
): Promise<FileRow[]> {
  if (order === "name") {
    // Folders first (kind 2 before 1), then name, then id.
    const cond = after.length === 3 ? "AND (-kind, name, id) > (-$3::smallint, $4, $5::uuid)" : "";
    const { rows } = await q.query<FileRow>(
      `SELECT ${FILE_SELECT} FROM files.files WHERE parent_id = $1 AND trash_time IS NULL AND missing_time IS NULL ${cond}
       ORDER BY -kind, name, id LIMIT $2`,
      after.length === 3 ? [parentId, limit, ...after] : [parentId, limit],
    );
    return rows;
  }
  const cond = after.length === 2 ? "AND (update_time, id) < ($3::timestamptz, $4::uuid)" : "";
  const { rows } = await q.query<FileRow>(
    `SELECT ${FILE_SELECT} FROM files.files WHERE parent_id = $1 AND trash_time IS NULL AND missing_time IS NULL ${cond}
     ORDER BY update_time DESC, id DESC LIMIT $2`,
    after.length === 2 ? [parentId, limit, ...after] : [parentId, limit],
  );
  return rows;
}

export const cursorOf = (row: FileRow, order: ListOrder): string[] =>
  order === "name" ? [String(row.kind), row.name, row.id] : [row.update_time.toISOString(), row.id];

/** Ids from `id` up to its root, `id` first. */
export async function ancestry(q: Queryable, id: string): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    `WITH RECURSIVE up(id, parent_id, depth) AS (
       SELECT id, parent_id, 0 FROM files.files WHERE id = $1
       UNION ALL
       SELECT f.id, f.parent_id, up.depth + 1 FROM files.files f JOIN up ON f.id = up.parent_id
       WHERE up.depth < 1000
     ) SELECT id FROM up ORDER BY depth`,
    [id],
  );
  return rows.map((r) => r.id);
}

/**
 * `id` and everything live below it, parents before children; or what was trashed with it
 * (`trashRoot`); or everything below it, trashed or not (`all`).
 */
export async function subtree(
  q: Queryable,
  id: string,
  opts: { trashRoot?: string; all?: boolean } = {},
): Promise<FileRow[]> {
  const filter = opts.all ? "" : opts.trashRoot ? "AND f.trash_root_id = $2" : "AND f.trash_time IS NULL";
  const { rows } = await q.query<FileRow & { depth: number }>(
    `WITH RECURSIVE down AS (
       SELECT ${FILE_SELECT_F}, 0 AS depth FROM files.files f WHERE f.id = $1
       UNION ALL
       SELECT ${FILE_SELECT_F}, down.depth + 1 FROM files.files f JOIN down ON f.parent_id = down.id
       WHERE down.depth < 1000 ${filter}
     ) SELECT ${FILE_SELECT}, depth FROM down ORDER BY depth`,
    opts.trashRoot ? [id, opts.trashRoot] : [id],
  );
  return rows;
}

/** The permission revision that made these rows' tuples (read-your-writes for later checks). */
export async function setAclRevision(q: Queryable, ids: string[], revision: string): Promise<void> {
  await q.query("UPDATE files.files SET acl_revision = $2 WHERE id = ANY($1::uuid[])", [ids, revision]);
}

/** Puts these rows in the trash together, under `rootId` (the one the caller trashed). */
export async function trashRows(q: Queryable, ids: string[], rootId: string, by: string): Promise<void> {
  await q.query(
    `UPDATE files.files SET trash_time = date_trunc('milliseconds', clock_timestamp()), trash_root_id = $2,
       trashed_by = $3 WHERE id = ANY($1::uuid[])`,
    [ids, rootId, by],
  );
}

/** Takes everything trashed with `rootId` out of the trash (a name clash fails with 23505). */
export async function untrashRoot(q: Queryable, rootId: string): Promise<void> {
  await q.query(
    "UPDATE files.files SET trash_time = NULL, trash_root_id = NULL, trashed_by = NULL WHERE trash_root_id = $1",
    [rootId],
  );
}

/**
 * The trash of a user: what they own or trashed, roots only (not what went with a folder),
 * newest first; the cursor is [trash_time ISO, id].
 */
export async function trashRoots(
  q: Queryable,
  userId: string,
  after: string[],
  limit: number,
): Promise<FileRow[]> {
  const cond = after.length === 2 ? "AND (trash_time, id) < ($3::timestamptz, $4::uuid)" : "";
  const { rows } = await q.query<FileRow>(
    `SELECT ${FILE_SELECT} FROM files.files WHERE trash_root_id = id AND (owner_id = $1 OR trashed_by = $1)
       AND missing_time IS NULL ${cond}
     ORDER BY trash_time DESC, id DESC LIMIT $2`,
    after.length === 2 ? [userId, limit, ...after] : [userId, limit],
  );
  return rows;
}

/** Deletes these rows for good (versions and links go with them by foreign key). */
export async function deleteRows(q: Queryable, ids: string[]): Promise<void> {
  await q.query("DELETE FROM files.files WHERE id = ANY($1::uuid[])", [ids]);
}

/** Serialises the creation of one user's home folder (held to the end of the transaction). */
export async function lockHomeOf(q: Queryable, userId: string): Promise<void> {
  await q.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`files.home.${userId}`]);
}
