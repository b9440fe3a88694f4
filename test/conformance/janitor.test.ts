// REST conformance: POST /v1/admin/janitor:run, and a file whose object was deleted behind the
// service's back served 404 (FILE_NOT_FOUND) over REST once the janitor has marked it — never a
// 500. Needs the store and the database of the mesh (fs driver, a database and nats-server of
// its own), so it is skipped against an external gateway.
import { mkdtempSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OwnNats, ownNatsServer } from "@filemesh/kit/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAdmin } from "../../scripts/admin.mjs";
import { privateDatabase } from "../../services/processor/test/support.js";
import { fileClient } from "./file-client.js";
import { reasonOf, startTarget, type Target } from "./target.js";

const external = Boolean(process.env.CONFORMANCE_BASE_URL);
const ADMIN_SUFFIX = `${Date.now()}@example.com`;

describe.skipIf(external)("POST /v1/admin/janitor:run", () => {
  let t: Target;
  let nats: OwnNats;
  let db: Awaited<ReturnType<typeof privateDatabase>>;
  let pool: pg.Pool;
  const blobDir = mkdtempSync(join(tmpdir(), "filemesh-janitor-rest-"));
  const c = fileClient(() => t.base);

  beforeAll(async () => {
    db = await privateDatabase();
    nats = await ownNatsServer();
    t = await startTarget({
      services: ["auth", "permission", "user", "file", "processor"],
      env: { DATABASE_URL: db.url, NATS_URL: nats.url, BLOB_DRIVER: "fs", BLOB_DIR: blobDir },
      serviceEnv: {
        processor: { JANITOR_INTERVAL: "0s", ORPHAN_GRACE: "1s" },
      },
    });
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });

  afterAll(async () => {
    await t?.stop();
    await pool?.end();
    await nats?.cleanup();
    await db?.drop();
    rmSync(blobDir, { recursive: true, force: true });
  });

  it("marks a file whose content is gone, which then answers 404 instead of 500", async () => {
    const user = await c.signup();
    const up = await c.raw("POST", "/v1/files:upload?name=lost.txt", user.auth, Buffer.from("lost"));
    expect(up.status).toBe(200);
    const file = JSON.parse(up.bytes.toString());
    const { rows } = await pool.query("SELECT object_key FROM files.versions WHERE id = $1", [
      file.currentVersionId,
    ]);
    await rm(join(blobDir, "objects", rows[0].object_key));

    // Before the janitor's pass: 404 CONTENT_MISSING from the download.
    const early = await c.raw("GET", `/v1/files/${file.id}/content`, user.auth);
    expect(early.status).toBe(404);
    expect(reasonOf(JSON.parse(early.bytes.toString()))).toBe("CONTENT_MISSING");

    const adminEmail = `files-admin-${ADMIN_SUFFIX}`;
    const password = "a long rest passphrase";
    await c.call("POST", "/v1/auth:register", {}, { email: adminEmail, password, displayName: "A" });
    await setAdmin({ databaseUrl: db.url }, adminEmail, true);
    const login = await c.call("POST", "/v1/auth:login", {}, { email: adminEmail, password });
    const admin = { authorization: `Bearer ${login.body.accessToken}` };
    expect((await c.call("POST", "/v1/admin/janitor:run", user.auth, {})).status).toBe(403);
    await new Promise((r) => setTimeout(r, 1100)); // older than ORPHAN_GRACE
    const run = await c.call("POST", "/v1/admin/janitor:run", admin, {});
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ markedMissingRows: 1, removedOrphanObjects: 0 });

    const get = await c.call("GET", `/v1/files/${file.id}`, user.auth);
    expect(get.status).toBe(404);
    expect(reasonOf(get.body)).toBe("FILE_NOT_FOUND");
    const content = await c.raw("GET", `/v1/files/${file.id}/content`, user.auth);
    expect(content.status).toBe(404);
    expect(reasonOf(JSON.parse(content.bytes.toString()))).toBe("FILE_NOT_FOUND");
    const list = await c.call("GET", "/v1/files", user.auth);
    expect(list.status).toBe(200);
    expect(list.body.files ?? []).toEqual([]);
  });
});
