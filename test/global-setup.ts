// Runs once before all tests: this run's template database holds every service's schema,
// migrated. Each test file then clones it (test/setup-file.ts), so suites in parallel workers
// never share rows, outboxes or NATS streams. The teardown drops every database of the run;
// those of a run killed over three hours ago go when the next run starts.
import { createLogger, openDatabase } from "@filemesh/kit";
import { createDatabase, dropTestDatabases, TEST_DATABASE_PREFIX } from "@filemesh/kit/testing";
import { authSchema } from "../services/auth/src/store/migrations.js";
import { fileSchema } from "../services/file/src/store/migrations.js";
import { permissionSchema } from "../services/permission/src/store/migrations.js";
import { processorSchema } from "../services/processor/src/store/migrations.js";
import { userSchema } from "../services/user/src/store/migrations.js";

/** Where the run's databases are made (the database named there is not used). */
const SERVER_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export default async function setup(): Promise<() => Promise<void>> {
  // Each vitest project runs the global setup (vitest.config.ts has two): the first one's
  // template serves the whole run.
  if (process.env.TEST_TEMPLATE_DATABASE) return async () => {};
  await dropTestDatabases(SERVER_URL, (_, startedAt) => !(Date.now() - startedAt < 3 * 3600_000));
  const run = Date.now().toString(36);
  const template = await createDatabase(SERVER_URL, `${TEST_DATABASE_PREFIX}${run}_template`);
  const log = createLogger({ service: "test-template", level: "warn" });
  for (const spec of [authSchema, permissionSchema, fileSchema, userSchema, processorSchema]) {
    const db = await openDatabase({
      url: template.url,
      schema: spec.schema,
      poolSize: 2,
      migrations: spec.migrations(),
      log,
    });
    try {
      await db.migrate();
    } finally {
      await db.close();
    }
  }
  process.env.TEST_RUN_ID = run;
  process.env.TEST_TEMPLATE_DATABASE = template.url;
  return async () => {
    await dropTestDatabases(SERVER_URL, (name) => name.startsWith(`${TEST_DATABASE_PREFIX}${run}_`));
  };
}
