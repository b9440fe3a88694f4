// Runs once before all tests: the test database exists and the dev secrets are in place.
import { ensureDatabase } from "../scripts/lib/dev-env.mjs";

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/filemesh_test";

export default async function setup(): Promise<void> {
  await ensureDatabase(TEST_DATABASE_URL);
  process.env.TEST_DATABASE_URL = TEST_DATABASE_URL;
}
