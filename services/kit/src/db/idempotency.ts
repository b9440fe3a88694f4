// request_id idempotency (AIP-155), one way for every service: a write retried with the same
// request_id makes one change and gets the first attempt's answer back; the same id with other
// parameters is REQUEST_ID_REUSED. The first attempt claims `<schema>.requests` in its own
// transaction, so a concurrent retry waits on the claim until that attempt commits (and then
// replays its answer) or rolls back (and then runs itself); a rolled-back attempt leaves nothing.
// The permission service keeps the request on its change row instead (one row per group-commit
// batch member, docs/architecture.md "Group commit"), with the same validation, fingerprint and
// error from here.
import { createHash } from "node:crypto";
import { type AppError, failedPrecondition, invalidArgument } from "../errors.js";
import type { CallContext } from "../grpc/context.js";
import type { Queryable } from "./queryable.js";

const REQUEST_ID = /^[A-Za-z0-9._~:-]{1,128}$/;
const SCHEMA = /^[a-z_][a-z0-9_]*$/;

/** The request id, checked: "" (none) or 1–128 of A-Z a-z 0-9 . _ ~ : - (INVALID_REQUEST_ID). */
export function requestIdOf(raw: string): string {
  if (raw === "" || REQUEST_ID.test(raw)) return raw;
  throw invalidArgument(
    "INVALID_REQUEST_ID",
    "request_id must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ : -",
    [{ field: "request_id", description: "must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ : -" }],
  );
}

/** What a request asks for, so a reused id with other parameters is told apart. */
export const fingerprintOf = (...parts: unknown[]): string =>
  createHash("sha256").update(JSON.stringify(parts)).digest("base64url");

export const requestIdReused = (): AppError =>
  invalidArgument("REQUEST_ID_REUSED", "request_id was already used with different parameters", [
    { field: "request_id", description: "was already used with different parameters" },
  ]);

/** DDL of `<schema>.requests` (idempotent), beside the outbox's in each service's migrations. */
export function requestsTableSql(schema: string): string {
  const s = checkSchema(schema);
  return `CREATE TABLE IF NOT EXISTS "${s}".requests (
  caller text NOT NULL,
  method text NOT NULL,
  request_id text NOT NULL,
  fingerprint text NOT NULL,
  response bytea,
  create_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (caller, method, request_id)
);
CREATE INDEX IF NOT EXISTS requests_create_time_idx ON "${s}".requests (create_time);
`;
}

/** How a write's answer is kept: protobuf messages (`encode(m).finish()` / `decode`), ids, … */
export interface ResponseCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** A ts-proto message type as the codec of its answers. */
export const protoCodec = <T>(type: {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}): ResponseCodec<T> => ({ encode: (m) => type.encode(m).finish(), decode: (b) => type.decode(b) });

/** A resource id as the kept answer (the retry reads the resource again). */
export const idCodec: ResponseCodec<string> = {
  encode: (id) => Buffer.from(id, "utf8"),
  decode: (b) => Buffer.from(b).toString("utf8"),
};

export interface OnceOptions<T> {
  /** The service's schema (its `<schema>.requests`). */
  schema: string;
  ctx: CallContext;
  /** "" runs `work` without a record. Validate it with requestIdOf first. */
  requestId: string;
  fingerprint: string;
  codec: ResponseCodec<T>;
}

/**
 * Runs `work` inside `tx` once per (caller, method, request id): the first attempt's answer
 * is kept with it; a retry gets that answer (`replayed: true`) without running `work`.
 */
export async function oncePerRequest<T>(
  tx: Queryable,
  o: OnceOptions<T>,
  work: () => Promise<T>,
): Promise<{ value: T; replayed: boolean }> {
  if (!o.requestId) return { value: await work(), replayed: false };
  requestIdOf(o.requestId);
  const table = `"${checkSchema(o.schema)}".requests`;
  const key = [o.ctx.principal?.subject ?? "anonymous", o.ctx.method.method, o.requestId];
  const claimed = await tx.query(
    `INSERT INTO ${table} (caller, method, request_id, fingerprint) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [...key, o.fingerprint],
  );
  if ((claimed.rowCount ?? 0) === 0) {
    const { rows } = await tx.query<{ fingerprint: string; response: Buffer | null }>(
      `SELECT fingerprint, response FROM ${table} WHERE caller = $1 AND method = $2 AND request_id = $3`,
      key,
    );
    const row = rows[0];
    // Pruned between the two statements: the caller's retry runs it afresh.
    if (!row) throw failedPrecondition("REQUEST_IN_PROGRESS", "this request is still in progress; retry");
    if (row.fingerprint !== o.fingerprint) throw requestIdReused();
    if (!row.response)
      throw failedPrecondition("REQUEST_IN_PROGRESS", "this request is still in progress; retry");
    return { value: o.codec.decode(row.response), replayed: true };
  }
  const value = await work();
  await tx.query(`UPDATE ${table} SET response = $4 WHERE caller = $1 AND method = $2 AND request_id = $3`, [
    ...key,
    Buffer.from(o.codec.encode(value)),
  ]);
  return { value, replayed: false };
}

/**
 * oncePerRequest for a write that makes one resource: the kept answer is its id (a retry reads
 * the resource again, as it is now).
 */
export async function oncePerRequestId(
  tx: Queryable,
  o: Omit<OnceOptions<string>, "codec">,
  work: () => Promise<string>,
): Promise<{ id: string; replayed: boolean }> {
  const { value, replayed } = await oncePerRequest(tx, { ...o, codec: idCodec }, work);
  return { id: value, replayed };
}

/** Forgets requests older than `olderThanMs` (a retry after that runs again). */
export async function pruneRequests(q: Queryable, schema: string, olderThanMs: number): Promise<number> {
  const res = await q.query(
    `DELETE FROM "${checkSchema(schema)}".requests WHERE create_time < now() - make_interval(secs => $1::double precision)`,
    [olderThanMs / 1000],
  );
  return res.rowCount ?? 0;
}

/** Prunes `<schema>.requests` every hour (and once at start); the returned function stops it. */
export function startRequestPruning(
  q: Queryable,
  schema: string,
  retentionMs: number,
  onError: (err: Error) => void,
): () => void {
  const run = () => void pruneRequests(q, schema, retentionMs).catch(onError);
  const timer = setInterval(run, 3_600_000);
  timer.unref();
  run();
  return () => clearInterval(timer);
}

function checkSchema(schema: string): string {
  if (!SCHEMA.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  return schema;
}
