// store/versions.ts getFileAndVersion on the real Postgres: a download's file and version in one
// named (prepared) statement — every column of the file row, the current or a named version, and
// a statement that keeps working on its connection after a migration adds a column.
import { randomUUID } from "node:crypto";
import { createPool } from "@filemesh/kit";
import { captureLogger, testDatabaseUrl } from "@filemesh/kit/testing";
import { afterAll, describe, expect, it } from "vitest";
import { insertFile, KIND, STATE } from "../src/store/files.js";
import { getFileAndVersion, insertVersion } from "../src/store/versions.js";

const { log } = captureLogger();
const pool = createPool(testDatabaseUrl(), 4, log, "test", 10_000);
afterAll(() => pool.end());

async function fileWithTwoVersions() {
  const id = randomUUID();
  const owner = randomUUID();
  const [v1, v2] = [randomUUID(), randomUUID()];
  const home = randomUUID();
  await insertFile(pool, {
    id: home,
    ownerId: owner,
    parentId: null,
    homeOf: owner,
    kind: KIND.FOLDER,
    name: "Home",
    state: STATE.READY,
  });
  await insertFile(pool, {
    id,
    ownerId: owner,
    parentId: home,
    kind: KIND.FILE,
    name: "a.txt",
    state: STATE.READY,
  });
  for (const v of [v1, v2]) {
    await insertVersion(pool, {
      id: v,
      file_id: id,
      owner_id: owner,
      object_key: `k-${v}`,
      size_bytes: "3",
      sha256: "",
      content_type: "text/plain",
      state: STATE.READY,
      creator: owner,
    });
  }
  await pool.query("UPDATE files.files SET current_version_id = $2 WHERE id = $1", [id, v2]);
  return { id, v1, v2 };
}

describe("getFileAndVersion", () => {
  it("reads every column of the file and the current or the named version", async () => {
    const { id, v1, v2 } = await fileWithTwoVersions();
    const got = await getFileAndVersion(pool, id, "");
    const { rows } = await pool.query("SELECT * FROM files.files WHERE id = $1", [id]);
    expect(got?.file).toEqual(rows[0]);
    expect(got?.version?.id).toBe(v2);
    expect(got?.version?.object_key).toBe(`k-${v2}`);
    expect((await getFileAndVersion(pool, id, v1))?.version?.object_key).toBe(`k-${v1}`);
    // Another file's version, a malformed id, a missing file.
    const other = await fileWithTwoVersions();
    expect((await getFileAndVersion(pool, id, other.v1))?.version).toBeUndefined();
    expect((await getFileAndVersion(pool, id, "not-a-uuid"))?.version).toBeUndefined();
    expect(await getFileAndVersion(pool, randomUUID(), "")).toBeUndefined();
    expect(await getFileAndVersion(pool, "not-a-uuid", "")).toBeUndefined();
  });

  it("keeps answering on a connection that prepared it after a migration adds a column", async () => {
    const { id, v2 } = await fileWithTwoVersions();
    const client = await pool.connect();
    try {
      expect((await getFileAndVersion(client, id, ""))?.version?.id).toBe(v2);
      await pool.query("ALTER TABLE files.files ADD COLUMN added_later text NOT NULL DEFAULT ''");
      try {
        const again = await getFileAndVersion(client, id, "");
        expect(again?.version?.id).toBe(v2);
        expect(again?.file).not.toHaveProperty("added_later");
      } finally {
        await pool.query("ALTER TABLE files.files DROP COLUMN added_later");
      }
    } finally {
      client.release();
    }
  });
});
