// The tests' databases. Every test file gets a database of its own, cloned from a template
// that test/global-setup.ts migrates once per run (`CREATE DATABASE … TEMPLATE`, about as cheap as
// an empty one): suites in parallel workers then never see each other's rows, outboxes or counts.
// Its URL is TEST_DATABASE_URL and its NATS run prefix TEST_RUN_PREFIX (test/setup-file.ts).
import { randomBytes } from "node:crypto";
import pg from "pg";

/** This test file's database (TEST_DATABASE_URL); here, not in index.ts, so neither file imports the other. */
export const testDatabaseUrl = (): string =>
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/filemesh_test";

/**
 * The NATS run prefix of every service on this test file's database (events start in its
 * outboxes, so they share one; kit run-prefix.ts): the file's own, "test" outside a file.
 */
export const testRunPrefix = (): string => process.env.TEST_RUN_PREFIX ?? "test";

/** Names of the databases a run creates: `fmt_<run>_<rand>`, `<run>` its start time in base 36. */
export const TEST_DATABASE_PREFIX = "fmt_";

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Drops a database on the server of `url`; `force` ends sessions still connected to it. */
export async function dropDatabase(url: string, name: string, force = false): Promise<void> {
  await onServer(url, (c) =>
    c.query(`DROP DATABASE IF EXISTS ${quoted(name)}${force ? " WITH (FORCE)" : ""}`),
  );
}

/**
 * A new database on the server of `url`: empty, or a copy of `template` (which must have no
 * session open). Returns its URL and a function that drops it.
 */
export async function createDatabase(
  url: string,
  name: string,
  template?: string,
): Promise<{ url: string; drop(force?: boolean): Promise<void> }> {
  await onServer(url, (c) =>
    c.query(`CREATE DATABASE ${quoted(name)}${template ? ` TEMPLATE ${quoted(template)}` : ""}`),
  );
  return { url: withDatabase(url, name), drop: (force = true) => dropDatabase(url, name, force) };
}

/**
 * Drops the test databases (`fmt_<run>_…`) for which `which(name, runStartedAt)` holds: a run's
 * own at its end, those of runs killed long ago at the next start.
 */
export async function dropTestDatabases(
  url: string,
  which: (name: string, runStartedAt: number) => boolean,
): Promise<string[]> {
  const names = await onServer(url, async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE $1",
      [`${TEST_DATABASE_PREFIX}%`],
    );
    return rows.map((r) => r.datname);
  });
  const chosen = names.filter((n) =>
    which(n, Number.parseInt(n.slice(TEST_DATABASE_PREFIX.length).split("_")[0] ?? "", 36)),
  );
  for (const n of chosen) await dropDatabase(url, n, true).catch(() => undefined);
  return chosen;
}

/**
 * Drops a test database once nothing is connected to it any more (a pool ending, a service
 * stopping) — never with FORCE, whose terminated sessions would surface as unhandled errors in
 * the test process. Still in use after a few seconds: left to the run's teardown.
 */
export async function dropWhenFree(db: { drop(force?: boolean): Promise<void> }): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      return await db.drop(false);
    } catch (err) {
      if ((err as { code?: string }).code !== "55006") throw err; // 55006: in use
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** Creates an empty database for one test file (migration tests); returns its URL and a function that drops it. */
export async function privateDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const run = process.env.TEST_RUN_ID ?? Date.now().toString(36);
  const db = await createDatabase(
    testDatabaseUrl(),
    `${TEST_DATABASE_PREFIX}${run}_p${randomBytes(5).toString("hex")}`,
  );
  return { url: db.url, drop: () => dropWhenFree(db) };
}
