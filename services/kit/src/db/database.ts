// Postgres access: plain `pg` pools (primary, and an optional read replica) and the schema's SQL
// migrations, run by MikroORM's migrator under an advisory lock (no entities: docs/conventions.md, "Schema").

import type { MikroORM } from "@mikro-orm/core";
import pg from "pg";
import type { Logger } from "../logger.js";
import { AdmittedPool } from "./admission.js";
import { PreparingClient } from "./prepared.js";

/**
 * A migration: its name (recorded in `schema_migrations`, so never renamed) and the SQL it runs,
 * in order, in the migration's transaction.
 */
export interface SqlMigration {
  readonly name: string;
  readonly statements: readonly string[];
}

/** A migration that runs the given SQL (e.g. the kit's outbox or inbox DDL). */
export function sqlMigration(name: string, ...statements: string[]): SqlMigration {
  return { name, statements };
}

/**
 * MikroORM (the migration runner only), loaded when a database is opened: a process or test
 * file that never opens one does not pay its import (≈ 0.6 s on the CI machine).
 */
async function loadMigrator() {
  const [{ MikroORM }, { Migration, Migrator }, { PostgreSqlDriver }] = await Promise.all([
    import("@mikro-orm/core"),
    import("@mikro-orm/migrations"),
    import("@mikro-orm/postgresql"),
  ]);
  const asClass = (m: SqlMigration) => {
    class Sql extends Migration {
      override async up(): Promise<void> {
        for (const sql of m.statements) this.addSql(sql);
      }
    }
    return { name: m.name, class: Sql };
  };
  return { MikroORM, Migrator, PostgreSqlDriver, asClass };
}

export interface DatabaseOptions {
  url: string;
  /** Read replica for read-only queries; the primary when absent. */
  readUrl?: string | undefined;
  /** The service's own schema (auth, users, acl, files, jobs). */
  schema: string;
  poolSize: number;
  /** Longest wait for a connection outside a call with a deadline (DEFAULT_QUEUE_WAIT_MS). */
  queueWaitMs?: number;
  /** Name parameterised statements (prepared.ts; default true). */
  preparedStatements?: boolean;
  migrations: SqlMigration[];
  log: Logger;
}

export interface Database {
  readonly orm: MikroORM;
  /** Primary pool for hot-path SQL (schema-qualified statements). */
  readonly pool: pg.Pool;
  /** Replica pool for read-only queries (same as pool without a replica). */
  readonly readPool: pg.Pool;
  readonly schema: string;
  /** Applies pending migrations under an advisory lock (safe with many replicas starting). */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}

// int8 → string (ids and sizes stay exact); timestamps stay Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Longest wait for a connection of work without a call deadline (admission.ts): streaming
 * uploads through the gateway carry none. As long as PgBouncer's query_wait_timeout.
 */
export const DEFAULT_QUEUE_WAIT_MS = 30_000;

/**
 * A pool behind the admission queue (admission.ts): checkouts wait within their call's
 * deadline instead of failing when all `max` connections are busy.
 */
export function createPool(
  url: string,
  max: number,
  log: Logger,
  name: string,
  maxWaitMs = DEFAULT_QUEUE_WAIT_MS,
  prepared = true,
): AdmittedPool {
  const pool = new AdmittedPool({
    connectionString: url,
    max,
    maxWaitMs,
    // Parameterised statements prepared once per connection (prepared.ts), unless turned off;
    // a transaction's statements pipelined either way (pipeline.ts).
    Client: PreparingClient,
    prepareStatements: prepared,
    idleTimeoutMillis: 30_000,
    // Opening one connection; waiting for a busy one is the admission queue's.
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on("error", (err) => log.warn({ err: err.message, pool: name }, "postgres idle client error"));
  // A connection that dies while checked out (Postgres restart, terminated backend) must not
  // crash the process: its query rejects, and this listener keeps the 'error' event handled.
  pool.on("connect", (client) => {
    client.on("error", (err) => log.debug({ err: err.message, pool: name }, "postgres client error"));
  });
  return pool;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (!SCHEMA.test(opts.schema)) throw new Error(`invalid schema name ${opts.schema}`);
  const { MikroORM, Migrator, PostgreSqlDriver, asClass } = await loadMigrator();
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: opts.url,
    schema: opts.schema,
    entities: [],
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: Math.max(2, Math.ceil(opts.poolSize / 2)) },
    debug: false,
    allowGlobalContext: false,
    migrations: {
      migrationsList: opts.migrations.map(asClass),
      tableName: "schema_migrations",
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
    logger: (msg) => opts.log.debug({ orm: msg }, "mikro-orm"),
  });
  const prepared = opts.preparedStatements ?? true;
  const pool = createPool(opts.url, opts.poolSize, opts.log, "primary", opts.queueWaitMs, prepared);
  const readPool = opts.readUrl
    ? createPool(opts.readUrl, opts.poolSize, opts.log, "replica", opts.queueWaitMs, prepared)
    : pool;
  return {
    orm,
    pool,
    readPool,
    schema: opts.schema,
    async migrate() {
      // A transaction-scoped advisory lock: safe behind PgBouncer's transaction pooling (the
      // transaction pins one server connection; nothing leaks if this process dies).
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`).catch((err) => {
        if (!["23505", "42P06"].includes((err as { code?: string }).code ?? "")) throw err; // created concurrently
      });
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`filemesh.migrate.${opts.schema}`]);
        const done = await orm.getMigrator().up();
        await client.query("COMMIT");
        if (done.length) opts.log.info({ migrations: done.map((m) => m.name) }, "migrated");
        return done.map((m) => m.name);
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      await orm.close(true);
      await pool.end();
      if (readPool !== pool) await readPool.end();
    },
  };
}

export { beforeCommit, settleAll } from "./pipeline.js";
export { inTransaction } from "./transaction.js";

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === "23505" && (constraint === undefined || e.constraint === constraint);
}

/** A service's schema: its name and its migrations (each service's `store/migrations.ts`). */
export interface ServiceSchema {
  schema: string;
  migrations(): SqlMigration[];
}

/**
 * The service's database as every service opens it: from its config (`DATABASE_URL`,
 * `DATABASE_READ_URL`, `DATABASE_POOL_SIZE`), migrated, and closed at shutdown after everything
 * registered later (shutdown hooks run in reverse order).
 */
export async function openServiceDatabase(
  runtime: { onShutdown(fn: () => Promise<void> | void): void },
  config: {
    databaseUrl: string;
    databaseReadUrl?: string | undefined;
    databasePoolSize: number;
    databasePreparedStatements?: boolean;
  },
  schema: ServiceSchema,
  log: Logger,
): Promise<Database> {
  const db = await openDatabase({
    url: config.databaseUrl,
    readUrl: config.databaseReadUrl,
    schema: schema.schema,
    poolSize: config.databasePoolSize,
    preparedStatements: config.databasePreparedStatements ?? true,
    migrations: schema.migrations(),
    log,
  });
  runtime.onShutdown(() => db.close());
  await db.migrate();
  return db;
}
