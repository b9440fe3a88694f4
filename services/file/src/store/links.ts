// files.links: share links. Only a SHA-256 of the token is stored; passwords as scrypt hashes.
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import type { Queryable } from "./files.js";

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
  /** Revision of the permission service that holds the link's tuple (bigint as text). */
  acl_revision: string;
}

export const newLinkToken = (): string => randomBytes(32).toString("base64url");
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
