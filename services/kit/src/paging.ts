// Paging for every List RPC (AIP-158), one behaviour for all services:
// - page_size: 0 → the list's default; negative → INVALID_ARGUMENT INVALID_PAGE_SIZE;
//   above the list's maximum → clamped to it (never refused: a client asking for "all" gets a
//   full page and a next_page_token).
// - page_token: opaque, HMAC-SHA256-signed with the service's page-token key, and bound to the
//   list, the caller and the request's filter/parent (the "binding"), so a token from one list,
//   filter or caller is refused, as is a tampered, forged, malformed or expired one. Every
//   refusal is INVALID_ARGUMENT INVALID_PAGE_TOKEN.
// The key lives in the service's `<schema>.secrets` table (created by whichever replica starts
// first), so every replica accepts the others' tokens and tokens survive restarts.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Queryable } from "./db/queryable.js";
import { invalidArgument } from "./errors.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** A token is good for a day: long enough for any client, short enough to bound replays. */
export const PAGE_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

const MAX_TOKEN_CHARS = 2048;
const MAC_BYTES = 16;

export interface PageSizeLimits {
  default?: number;
  max?: number;
}

/** page_size per AIP-158: 0 → default, negative → INVALID_PAGE_SIZE, above max → max. */
export function pageSize(n: number, limits: PageSizeLimits = {}): number {
  const def = limits.default ?? DEFAULT_PAGE_SIZE;
  const max = limits.max ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 0) {
    throw invalidArgument("INVALID_PAGE_SIZE", "page_size must not be negative", [
      { field: "page_size", description: "must be 0 (the default) or a positive number" },
    ]);
  }
  return n === 0 ? def : Math.min(n, max);
}

export const invalidPageToken = () =>
  invalidArgument("INVALID_PAGE_TOKEN", "page_token is not a token this list returned", [
    { field: "page_token", description: "not a token this list returned for this request" },
  ]);

/**
 * What a token is bound to: the list (e.g. "ListGrants"), the caller and every request field
 * that selects the rows (parent, filter, order). A token read with any other binding is refused.
 */
export interface PageBinding {
  list: string;
  caller: string;
  filter?: readonly string[];
}

export interface PageTokens {
  /** A token that resumes the list after `cursor` (the sort key of the last item served). */
  issue(binding: PageBinding, cursor: readonly string[]): string;
  /** The cursor of a token issued for the same binding; [] for an empty token. */
  read(token: string, binding: PageBinding): string[];
}

export interface PageTokenOptions {
  ttlMs?: number;
  now?: () => number;
}

export function createPageTokens(key: Buffer, opts: PageTokenOptions = {}): PageTokens {
  if (key.length < 32) throw new Error("page token key must be at least 32 bytes");
  const ttl = opts.ttlMs ?? PAGE_TOKEN_TTL_MS;
  const now = opts.now ?? Date.now;
  // JSON of the parts, so ("a|b", "c") and ("a", "b|c") never sign alike.
  const mac = (b: PageBinding, body: string) =>
    createHmac("sha256", key)
      .update(JSON.stringify([b.list, b.caller, b.filter ?? []]))
      .update("\n")
      .update(body)
      .digest()
      .subarray(0, MAC_BYTES);
  return {
    issue(binding, cursor) {
      const body = Buffer.from(JSON.stringify({ c: cursor, e: now() + ttl })).toString("base64url");
      return `${body}.${mac(binding, body).toString("base64url")}`;
    },
    read(token, binding) {
      if (token === "") return [];
      if (token.length > MAX_TOKEN_CHARS) throw invalidPageToken();
      const [body, sig, extra] = token.split(".");
      if (!body || !sig || extra !== undefined) throw invalidPageToken();
      const given = Buffer.from(sig, "base64url");
      const want = mac(binding, body);
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw invalidPageToken();
      let parsed: { c?: unknown; e?: unknown };
      try {
        parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
      } catch {
        throw invalidPageToken();
      }
      const { c, e } = parsed ?? {};
      if (!Array.isArray(c) || !c.every((x) => typeof x === "string") || typeof e !== "number") {
        throw invalidPageToken();
      }
      if (now() > e) throw invalidPageToken();
      return c;
    },
  };
}

/** DDL of `<schema>.secrets`, for services whose migrations do not create it yet. */
export function secretsTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS "${checkSchema(schema)}".secrets (
  name text PRIMARY KEY,
  value bytea NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now()
)`;
}

/** The service's page-token key from `<schema>.secrets`; the first replica to start creates it. */
export async function loadPageTokenKey(q: Queryable, schema: string): Promise<Buffer> {
  const table = `"${checkSchema(schema)}".secrets`;
  await q.query(`INSERT INTO ${table} (name, value) VALUES ('page_token_key', $1) ON CONFLICT DO NOTHING`, [
    randomBytes(32),
  ]);
  const { rows } = (await q.query(`SELECT value FROM ${table} WHERE name = 'page_token_key'`)) as {
    rows: { value: Buffer }[];
  };
  return rows[0]!.value;
}

function checkSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  return schema;
}
