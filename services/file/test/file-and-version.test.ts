// store/versions.ts getFileAndVersion on the real Postgres: a download's file and version in one
// named (prepared) statement — every column of the file row, the current or a named version, and
// a statement that keeps working on its connection after a migration adds a column; and
// fileAndVersionReader, fileReader and folderAndChildReader, which read what one turn of the
// event loop asks together.
import { randomUUID } from "node:crypto";
import { type CallScope, createPool, type Queryable } from "@filemesh/kit";
import { captureLogger, testDatabaseUrl } from "@filemesh/kit/testing";
import { afterAll, describe, expect, it } from "vitest";
import {
  fileReader,
  folderAndChildReader,
  getFile,
  getFolderAndChild,
  insertFile,
  KIND,
  STATE,
} from "../src/store/files.js";
import { fileAndVersionReader, getFileAndVersion, insertVersion } from "../src/store/versions.js";

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

/** The pool, with the name of every statement sent through it. */
function counted(): { q: Queryable; names: string[] } {
  const names: string[] = [];
  const q = {
    query: (config: { name?: string }, values?: unknown[]) => {
      names.push(config.name ?? "(unnamed)");
      return pool.query(config as never, values as never);
    },
  } as unknown as Queryable;
  return { q, names };
}
const live: CallScope = {};

describe("fileAndVersionReader", () => {
  it("reads the pairs asked in one turn with one statement; each caller gets its own answer", async () => {
    const a = await fileWithTwoVersions();
    const b = await fileWithTwoVersions();
    const { q, names } = counted();
    const read = fileAndVersionReader(q);
    const asks: [string, string][] = [
      [a.id, ""],
      [a.id, a.v1],
      [b.id, ""],
      [a.id, ""],
      [randomUUID(), ""],
      [a.id, b.v1],
      [a.id, "not-a-uuid"],
      ["not-a-uuid", ""],
    ];
    const got = await Promise.all(asks.map(([f, v]) => read(live, f, v)));
    expect(names).toEqual(["files.files_and_versions"]);
    for (const [n, [f, v]] of asks.entries()) expect(got[n]).toEqual(await getFileAndVersion(pool, f, v));
    expect(got.map((g) => g?.version?.id)).toEqual([
      a.v2,
      a.v1,
      b.v2,
      a.v2,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(got[4]).toBeUndefined();
    expect(got[5]?.file.id).toBe(a.id);
    // The same pair twice: read once, but two objects (a caller may not change another's).
    expect(got[3]).not.toBe(got[0]);
    expect(got[3]?.file).not.toBe(got[0]?.file);
    expect(got[0]?.file).not.toHaveProperty("k.i");
  });

  it("sends a lone read as the single statement, and each turn's reads apart", async () => {
    const a = await fileWithTwoVersions();
    const { q, names } = counted();
    const read = fileAndVersionReader(q);
    expect((await read(live, a.id, ""))?.version?.id).toBe(a.v2);
    expect((await read(live, a.id, a.v1))?.version?.id).toBe(a.v1);
    expect(names).toEqual(["files.file_and_version", "files.file_and_version"]);
  });

  it("reads at most 500 pairs per statement", async () => {
    const { q, names } = counted();
    const read = fileAndVersionReader(q);
    const got = await Promise.all(Array.from({ length: 501 }, () => read(live, randomUUID(), "")));
    expect(got.every((g) => g === undefined)).toBe(true);
    expect(names).toEqual(["files.files_and_versions", "files.file_and_version"]);
  });

  it("fails every caller of a failed statement; the next turn reads again", async () => {
    const a = await fileWithTwoVersions();
    let fail = true;
    const q = {
      query: (config: never, values: never) =>
        fail ? Promise.reject(new Error("connection lost")) : pool.query(config, values),
    } as unknown as Queryable;
    const read = fileAndVersionReader(q);
    const first = await Promise.allSettled([read(live, a.id, ""), read(live, a.id, a.v1)]);
    expect(first.map((r) => (r.status === "rejected" ? (r.reason as Error).message : "ok"))).toEqual([
      "connection lost",
      "connection lost",
    ]);
    fail = false;
    expect((await read(live, a.id, ""))?.version?.id).toBe(a.v2);
  });

  it("runs a lone read in its caller's scope; a shared one outlives any one caller's cancellation", async () => {
    const a = await fileWithTwoVersions();
    const read = fileAndVersionReader(pool);
    const gone = new AbortController();
    gone.abort();
    const cancelled: CallScope = { signal: gone.signal, aborted: true, deadline: Date.now() + 5_000 };
    // Alone, a cancelled caller's read is refused by the pool's admission, as its own query was.
    await expect(read(cancelled, a.id, "")).rejects.toMatchObject({ name: "AbortError" });
    // Beside a live caller, the shared read goes on for both.
    const both = await Promise.all([
      read(cancelled, a.id, ""),
      read({ deadline: Date.now() + 5_000 }, a.id, a.v1),
    ]);
    expect(both.map((g) => g?.version?.id)).toEqual([a.v2, a.v1]);
  });
});

describe("fileReader and folderAndChildReader", () => {
  it("read one turn's rows with one statement each; every caller gets the row getFile gives, its own", async () => {
    const a = await fileWithTwoVersions();
    const b = await fileWithTwoVersions();
    const { q, names } = counted();
    const read = fileReader(q);
    const ids = [a.id, b.id, a.id, randomUUID(), "not-a-uuid"];
    const got = await Promise.all(ids.map((id) => read(live, id)));
    expect(names).toEqual(["files.files_by_id"]);
    for (const [n, id] of ids.entries()) expect(got[n]).toEqual(await getFile(pool, id));
    expect(got.map((r) => r?.id)).toEqual([a.id, b.id, a.id, undefined, undefined]);
    expect(got[2]).not.toBe(got[0]);
    expect(got[0]).not.toHaveProperty("k.i");
    expect(await read(live, b.id)).toEqual(await getFile(pool, b.id));
    expect(names).toEqual(["files.files_by_id", "(unnamed)"]);
  });

  it("say per folder and name whether a live child has the name, as getFolderAndChild does", async () => {
    const a = await fileWithTwoVersions();
    const folder = (await getFile(pool, a.id))!.parent_id!;
    const other = (await getFile(pool, (await fileWithTwoVersions()).id))!.parent_id!;
    const { q, names } = counted();
    const read = folderAndChildReader(q);
    const asks: [string, string][] = [
      [folder, "a.txt"],
      [folder, "b.txt"],
      [other, "a.txt"],
      [folder, "a.txt"],
      [randomUUID(), "a.txt"],
    ];
    const got = await Promise.all(asks.map(([id, name]) => read(live, id, name)));
    expect(names).toEqual(["files.folders_and_children"]);
    expect(got.map((r) => r?.name_taken)).toEqual([true, false, true, true, undefined]);
    for (const [n, [id, name]] of asks.entries())
      expect(got[n]).toEqual(await getFolderAndChild(pool, id, name));
    // A trashed child frees the name.
    await pool.query("UPDATE files.files SET trash_time = now() WHERE id = $1", [a.id]);
    const [again] = await Promise.all([read(live, folder, "a.txt"), read(live, other, "x")]);
    expect(again?.name_taken).toBe(false);
  });
});
