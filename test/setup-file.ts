// Runs in each test file's worker before the file: the file's own database, cloned from the
// run's migrated template (test/global-setup.ts), and its own NATS run prefix for every service
// on it (kit testing/database.ts). Both are dropped after the file's last hook.
import { randomBytes } from "node:crypto";
import { afterAll } from "vitest";
// The modules themselves, not the kit's index: this runs before every file, most of which never
// load the rest of the kit.
import { newRunPrefix } from "../services/kit/src/run-prefix.js";
import { createDatabase, dropWhenFree, TEST_DATABASE_PREFIX } from "../services/kit/src/testing/database.js";

const template = process.env.TEST_TEMPLATE_DATABASE;
if (template) {
  const name = `${TEST_DATABASE_PREFIX}${process.env.TEST_RUN_ID}_${randomBytes(5).toString("hex")}`;
  const db = await createDatabase(template, name, new URL(template).pathname.slice(1));
  const prefix = newRunPrefix("t");
  process.env.TEST_DATABASE_URL = db.url;
  process.env.TEST_RUN_PREFIX = prefix;
  // Registered first, so it runs after the file's own afterAll hooks (vitest runs them as a stack).
  afterAll(async () => {
    const { dropRun } = await import("../services/kit/src/testing/run.js");
    await dropRun(prefix, "");
    // Without FORCE: a service the file left running keeps its database until the run's teardown.
    await dropWhenFree(db).catch(() => undefined);
  });
}
