// A database of one test file's own (on the test server), for tests whose relays or janitors
// must not see other files' rows (the outbox tables of filemesh_test are shared).
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The shared test database (TEST_DATABASE_URL); here, not in index.ts, so neither file imports the other. */
export const testDatabaseUrl = (): string =>
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/filemesh_test";

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates a database for one test file; returns its URL and a function that drops it. */
export async function privateDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `fm_proc_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: withDatabase(testDatabaseUrl(), "postgres") });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(testDatabaseUrl(), name),
    async drop() {
      const c = new pg.Client({ connectionString: withDatabase(testDatabaseUrl(), "postgres") });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
