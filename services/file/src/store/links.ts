// files.links: share links. Only a SHA-256 of the token is stored; passwords as scrypt hashes.
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import type { Queryable } from "@filemesh/kit";

const scryptAsync = promisify(scrypt) as (p: string, s: Buffer, n: number) => Promise<Buffer>;

export interface LinkRow {
  id: string;
  file_id: string;
  role: string;
  expire_time: Date | null;
  max_downloads: number;
  downloads: number;
  password_hash: string | null;
  creator: string;
  create_time: Date;
  /** SHA-256 of the token (the token itself is never stored). */
  token_hash: Buffer;
  /** Revision of the permission service that holds the link's tuple (bigint as text). */
  acl_revision: string;
}

export const newLinkToken = (): string => randomBytes(32).toString("base64url");

/**
 * A new link's token: random, or — when the create carries a request_id — an HMAC of it (and of
 * the caller and file) under the service's key, so a retry of a create whose answer was lost
 * gets the same token back instead of a link no one can open. Unguessable either way.
 */
export const linkToken = (key: Buffer, requestId: string, userId: string, fileId: string): string =>
  requestId
    ? createHmac("sha256", key).update(`share-link\0${userId}\0${fileId}\0${requestId}`).digest("base64url")
    : newLinkToken();
export const tokenHash = (token: string): Buffer => createHash("sha256").update(token).digest();

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString("base64url")}$${(await scryptAsync(password, salt, 32)).toString("base64url")}`;
}

export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [kind, salt, hash] = stored.split("$");
  if (kind !== "scrypt" || !salt || !hash) return false;
  const want = Buffer.from(hash, "base64url");
  const got = await scryptAsync(password, Buffer.from(salt, "base64url"), want.length);
  return timingSafeEqual(got, want);
}

export async function insertLink(
  q: Queryable,
  l: Omit<LinkRow, "downloads" | "create_time" | "acl_revision"> & { token_hash: Buffer },
): Promise<LinkRow> {
  const { rows } = await q.query<LinkRow>(
    `INSERT INTO files.links (id, file_id, token_hash, role, expire_time, max_downloads, password_hash, creator,
       create_time)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, date_trunc('milliseconds', clock_timestamp())) RETURNING *`,
    [l.id, l.file_id, l.token_hash, l.role, l.expire_time, l.max_downloads, l.password_hash, l.creator],
  );
  return rows[0]!;
}

export async function linkByToken(q: Queryable, token: string): Promise<LinkRow | undefined> {
  if (!token || token.length > 100) return undefined;
  const { rows } = await q.query<LinkRow>("SELECT * FROM files.links WHERE token_hash = $1", [
    tokenHash(token),
  ]);
  return rows[0];
}

export async function linksOf(
  q: Queryable,
  fileId: string,
  after: string[],
  limit: number,
): Promise<LinkRow[]> {
  const cond = after.length === 2 ? "AND (create_time, id) > ($3::timestamptz, $4::uuid)" : "";
  const { rows } = await q.query<LinkRow>(
    `SELECT * FROM files.links WHERE file_id = $1 ${cond} ORDER BY create_time, id LIMIT $2`,
    after.length === 2 ? [fileId, limit, ...after] : [fileId, limit],
  );
  return rows;
}

export async function deleteLink(q: Queryable, fileId: string, id: string): Promise<LinkRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const { rows } = await q.query<LinkRow>(
    "DELETE FROM files.links WHERE file_id = $1 AND id = $2 RETURNING *",
    [fileId, id],
  );
  return rows[0];
}

export async function setLinkRevision(q: Queryable, id: string, revision: string): Promise<void> {
  await q.query("UPDATE files.links SET acl_revision = $2 WHERE id = $1", [id, revision]);
}

/** Counts one download unless the limit is reached; false when it is. */
export async function countDownload(q: Queryable, id: string): Promise<boolean> {
  const res = await q.query(
    "UPDATE files.links SET downloads = downloads + 1 WHERE id = $1 AND (max_downloads = 0 OR downloads < max_downloads)",
    [id],
  );
  return (res.rowCount ?? 0) > 0;
}

// Password guesses (files.link_password_failures): one row per link and client address, and
// one for the link as a whole (client ''). Times come from the database's clock, so every
// replica agrees.

export interface GuessRules {
  /** Failures before a delay starts. */
  free: number;
  baseMs: number;
  maxMs: number;
  /** Counts are forgotten after this long without a failure. */
  windowMs: number;
}

/** The whole link's row: counts everyone's failures. */
const WHOLE_LINK = "";

// The next failure count (a quiet window starts afresh) and the delay it starts: base doubled
// per failure past the free ones (exponent bounded), capped. $3 free, $4 base, $5 max, $6 window.
const NEXT = `(CASE WHEN g.update_time < clock_timestamp() - $6::float8 * interval '1 millisecond' THEN 1 ELSE g.failures + 1 END)`;
const delayOf = (n: string) =>
  `(CASE WHEN ${n} > $3::int THEN clock_timestamp() + LEAST($4::float8 * power(2, LEAST(${n} - $3::int - 1, 40)), $5::float8) * interval '1 millisecond' END)`;

/** One more failure of `client` (if `unlessDelayed`: only when no delay of its own runs). */
async function addFailure(
  q: Queryable,
  linkId: string,
  client: string,
  r: GuessRules,
  unlessDelayed: boolean,
) {
  return q.query(
    `INSERT INTO files.link_password_failures AS g (link_id, client, failures, retry_time, update_time)
     VALUES ($1, $2, 1, ${delayOf("1")}, clock_timestamp())
     ON CONFLICT (link_id, client) DO UPDATE SET
       failures = ${NEXT}, retry_time = ${delayOf(NEXT)}, update_time = clock_timestamp()
     ${unlessDelayed ? "WHERE g.retry_time IS NULL OR g.retry_time <= clock_timestamp()" : ""}`,
    [linkId, client, r.free, r.baseMs, r.maxMs, r.windowMs],
  );
}

/**
 * How long `client` must wait before trying a password on the link (0: it may): its own delay,
 * and the whole link's unless it has given the right password from there before.
 */
export async function guessWaitMs(q: Queryable, linkId: string, client: string): Promise<number> {
  const { rows } = await q.query<{ client: string; known: boolean; wait_ms: number }>(
    `SELECT client, known,
       COALESCE(GREATEST(0, EXTRACT(EPOCH FROM (retry_time - clock_timestamp())) * 1000), 0)::float8 AS wait_ms
     FROM files.link_password_failures WHERE link_id = $1 AND client IN ($2, $3)`,
    [linkId, client, WHOLE_LINK],
  );
  const own = rows.find((r) => r.client === client);
  const known = own?.known ?? false;
  const whole = rows.find((r) => r.client === WHOLE_LINK);
  return Math.ceil(Math.max(own?.wait_ms ?? 0, known ? 0 : (whole?.wait_ms ?? 0)));
}

/**
 * Counts an attempt of `client` as a failure before its password is hashed (a right one clears
 * it again), in one atomic statement that refuses while the client's delay runs: parallel
 * guesses cannot all slip in before the first failure lands. False: refused, nothing counted.
 */
export async function claimGuess(
  q: Queryable,
  linkId: string,
  client: string,
  r: GuessRules,
): Promise<boolean> {
  return ((await addFailure(q, linkId, client, r, true)).rowCount ?? 0) > 0;
}

/** A wrong password: counted for the whole link too (the client's own count was claimed). */
export async function failGuess(q: Queryable, linkId: string, r: GuessRules): Promise<void> {
  await addFailure(q, linkId, WHOLE_LINK, r, false);
}

/** The right password from `client`: its count is cleared and it is known from now on. */
export async function passGuess(q: Queryable, linkId: string, client: string): Promise<void> {
  await q.query(
    `UPDATE files.link_password_failures SET failures = 0, retry_time = NULL, known = true,
       update_time = clock_timestamp()
     WHERE link_id = $1 AND client = $2`,
    [linkId, client],
  );
}

export async function getLink(q: Queryable, id: string): Promise<LinkRow | undefined> {
  const { rows } = await q.query<LinkRow>("SELECT * FROM files.links WHERE id = $1", [id]);
  return rows[0];
}

/** The links of these files (what a permanent delete takes with it). */
export async function linksOfFiles(
  q: Queryable,
  fileIds: string[],
): Promise<{ id: string; file_id: string; role: string }[]> {
  const { rows } = await q.query<{ id: string; file_id: string; role: string }>(
    "SELECT id, file_id, role FROM files.links WHERE file_id = ANY($1::uuid[])",
    [fileIds],
  );
  return rows;
}
