// The commit step (domain/commit.ts) on the real Postgres, permission and file services: a new
// file's tuples are written before its transaction, so a slow permission write never holds the
// folder's lock or a database connection; concurrent uploads of one new name end as one file
// with versions, and the tuples written for the one that lost are forgotten.
import { createHash } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { open, rawUpload, rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh();

/**
 * Holds permission writes: a transaction that locks acl.changes against inserts until
 * `release()`; `waiting()` is true once a write is queued behind it.
 */
async function holdPermissionWrites(db: pg.Pool) {
  const c = await db.connect();
  await c.query("BEGIN");
  await c.query("LOCK TABLE acl.changes IN EXCLUSIVE MODE");
  return {
    async waiting(): Promise<boolean> {
      const { rows } = await db.query(
        "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'acl.changes'::regclass AND NOT granted",
      );
      return rows[0].n > 0;
    },
    async release() {
      await c.query("COMMIT");
      c.release();
    },
  };
}

const until = async (what: string, probe: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** Can another transaction lock the folder's row right now (NOWAIT)? */
async function folderLockable(db: pg.Pool, folderId: string): Promise<boolean> {
  const c = await db.connect();
  try {
    await c.query("BEGIN");
    await c.query("SET LOCAL lock_timeout = '100ms'");
    await c.query("SELECT 1 FROM files.files WHERE id = $1 FOR UPDATE NOWAIT", [folderId]);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "55P03") return false;
    throw err;
  } finally {
    await c.query("ROLLBACK").catch(() => undefined);
    c.release();
  }
}

describe("commit", () => {
  it("writes a new file's tuples before its transaction: a slow permission write locks no folder", async () => {
    const u = await t.mesh.newUser();
    const folder = await t.folder(u.headers, "inbox");
    const hold = await holdPermissionWrites(t.sharedDb);
    let uploaded: Promise<filev1.File> | undefined;
    try {
      uploaded = t.upload(u.headers, "a.txt", "alpha", folder.id);
      await until("the commit's permission write", () => hold.waiting());
      // The commit waits for its tuples; the folder is free for every other upload meanwhile.
      expect(await folderLockable(t.db, folder.id)).toBe(true);
      const rows = await t.db.query("SELECT 1 FROM files.files WHERE parent_id = $1", [folder.id]);
      expect(rows.rowCount).toBe(0); // and no row shows before its tuples exist
    } finally {
      await hold.release();
    }
    const file = await uploaded!;
    expect(file.name).toBe("a.txt");
    // The row carries the revision of its tuples: the owner reads it at once, anywhere.
    const { rows } = await t.db.query("SELECT acl_revision FROM files.files WHERE id = $1", [file.id]);
    expect(BigInt(rows[0].acl_revision)).toBeGreaterThan(0n);
    const got = await rpc(
      t.f,
      t.f.getFile,
      filev1.GetFileRequest.fromPartial({ fileId: file.id }),
      u.headers,
    );
    expect(got.file?.sha256).toBe(createHash("sha256").update("alpha").digest("hex"));
  });

  it("concurrent uploads of one new name: one file, two versions, the loser's tuples forgotten", async () => {
    const u = await t.mesh.newUser();
    const folder = await t.folder(u.headers, "race");
    const hold = await holdPermissionWrites(t.sharedDb);
    let both: Promise<filev1.File[]> | undefined;
    try {
      // Both read the name as free and write tuples for a new file, held until released.
      both = Promise.all([
        t.upload(u.headers, "same.txt", "one", folder.id),
        t.upload(u.headers, "same.txt", "two", folder.id),
      ]);
      await until("both permission writes", async () => {
        const { rows } = await t.sharedDb.query(
          "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'acl.changes'::regclass AND NOT granted",
        );
        // group commit may take both in one write: then one waiter stands for both
        return rows[0].n >= 1;
      });
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await hold.release();
    }
    const [a, b] = (await both!) as [filev1.File, filev1.File];
    expect(a.id).toBe(b.id);
    const versions = await t.db.query("SELECT count(*)::int AS n FROM files.versions WHERE file_id = $1", [
      a.id,
    ]);
    expect(versions.rows[0].n).toBe(2);
    // Only the committed file keeps tuples under the folder; the other id's are gone.
    await until("the unused tuples forgotten", async () => {
      const { rows } = await t.sharedDb.query(
        "SELECT DISTINCT object FROM acl.tuples WHERE relation = 'parent' AND subject = $1",
        [`file:${folder.id}`],
      );
      return rows.length === 1 && rows[0].object === `file:${a.id}`;
    });
    const owners = await t.sharedDb.query(
      "SELECT count(*)::int AS n FROM acl.tuples WHERE relation = 'owner' AND subject = $1 AND object <> $2 AND object NOT IN (SELECT 'file:' || id FROM files.files)",
      [`user:${u.userId}`, `file:${a.id}`],
    );
    expect(owners.rows[0].n).toBe(0);
  });

  it("a name taken when the upload began but freed before its commit: a new file, with its tuples", async () => {
    const u = await t.mesh.newUser();
    const folder = await t.folder(u.headers, "freed");
    const first = await t.upload(u.headers, "n.txt", "old", folder.id);
    // The folder is read with the name (taken) at the first message; the file goes to the
    // trash while the body still arrives.
    const [head, ...rest] = rawUpload(
      folder.id,
      "n.txt",
      Buffer.from("new content, in two messages"),
      "",
      "",
      8,
    );
    const up = open(t.f, t.f.uploadFile, u.headers);
    up.stream.write(head!);
    await new Promise((r) => setTimeout(r, 500));
    await rpc(t.f, t.f.deleteFile, { fileId: first.id, permanent: false, etag: "" }, u.headers);
    for (const m of rest) up.stream.write(m);
    up.stream.end();
    const { err, res } = await up.done;
    expect(err).toBeNull();
    const file = (res as filev1.UploadFileResponse).file!;
    expect(file.id).not.toBe(first.id);
    const { rows } = await t.sharedDb.query(
      "SELECT relation, subject FROM acl.tuples WHERE object = $1 ORDER BY relation",
      [`file:${file.id}`],
    );
    expect(rows).toEqual([
      { relation: "owner", subject: `user:${u.userId}` },
      { relation: "parent", subject: `file:${folder.id}` },
    ]);
    const got = await rpc(
      t.f,
      t.f.getFile,
      filev1.GetFileRequest.fromPartial({ fileId: file.id }),
      u.headers,
    );
    expect(got.file?.sizeBytes).toBe(String("new content, in two messages".length));
  });

  it("a new version of a file writes no tuples", async () => {
    const u = await t.mesh.newUser();
    const folder = await t.folder(u.headers, "again");
    const first = await t.upload(u.headers, "v.txt", "v1", folder.id);
    const changes = async () =>
      Number((await t.sharedDb.query("SELECT count(*)::int AS n FROM acl.changes")).rows[0].n);
    const before = await changes();
    const second = await t.upload(u.headers, "v.txt", "v2", folder.id);
    expect(second.id).toBe(first.id);
    expect(await changes()).toBe(before);
  });
});
