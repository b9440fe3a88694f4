// What one write costs Postgres: the statements the writer sends for an uncontended write of a
// new file's tuples (its owner and its parent edge), on a real database migrated as the service
// migrates it. The index sync is a stand-in that records its catch-ups (the writer only asks it
// for the index's revision and to catch up inside the transaction).
import { openDatabase } from "@filemesh/kit";
import { captureLogger, privateDatabase, uniqueId } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Q } from "../src/store/change-log.js";
import { permissionSchema } from "../src/store/migrations.js";
import type { RequestedUpdate } from "../src/store/tuple-writes.js";
import type { IndexSync } from "../src/sync/index-sync.js";
import { createWriter } from "../src/write/writer.js";

let own: Awaited<ReturnType<typeof privateDatabase>>;
let db: Awaited<ReturnType<typeof openDatabase>>;
/** Every statement sent through the pool's clients, in order. */
const sent: string[] = [];
beforeAll(async () => {
  own = await privateDatabase();
  db = await openDatabase({
    url: own.url,
    schema: permissionSchema.schema,
    poolSize: 2,
    migrations: permissionSchema.migrations(),
    log: captureLogger().log,
  });
  db.pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const q = args[0] as string | { text: string };
      sent.push(typeof q === "string" ? q : q.text);
      return query(...args);
    };
  });
  await db.migrate();
});
afterAll(async () => {
  await db?.close();
  await own?.drop();
});

const head = async () => Number((await db.pool.query("SELECT revision FROM acl.meta")).rows[0].revision);

/** A stand-in index sync at `revision`, recording what its catch-ups were given. */
function syncAt(revision: number) {
  const catchUps: (Q | undefined)[] = [];
  const sync = {
    index: { revision },
    catchUp: async (q?: Q) => {
      catchUps.push(q);
    },
    offer() {},
    publish: async () => {},
  } as unknown as IndexSync;
  return { sync, catchUps };
}

/** A WriteRelations-shaped write of a new file's owner and parent tuples; `plan` also reads `jit`. */
function newFileWrite(jit: string[]) {
  const file = `file:${uniqueId("f")}`;
  const updates: RequestedUpdate[] = [
    {
      op: "touch",
      tuple: { object: file, relation: "owner", subject: `user:${uniqueId("u")}`, expireAt: 0 },
    },
    {
      op: "touch",
      tuple: { object: file, relation: "parent", subject: `file:${uniqueId("d")}`, expireAt: 0 },
    },
  ];
  return {
    file,
    spec: {
      caller: "service:file",
      requestId: crypto.randomUUID(),
      fingerprint: file,
      event: { actor: "service:file", requestId: "", traceparent: "" },
      batchable: true,
      plan: async (tx: Q) => {
        jit.push(String((await tx.query<{ jit: string }>("SHOW jit")).rows[0]?.jit));
        return updates;
      },
      respond: (revision: number) => revision,
      encode: () => new Uint8Array(),
      decode: () => 0,
    },
  };
}

const ofWrite = (all: string[]) => all.filter((s) => s !== "SHOW jit");

describe("the writer's statements", () => {
  it("an uncontended new-file write on a replica at the head: JIT off without a statement, one tuple read, no catch-up", async () => {
    const at = await head();
    const { sync, catchUps } = syncAt(at);
    const write = createWriter({ pool: db.pool, sync });
    const jit: string[] = [];
    const { file, spec } = newFileWrite(jit);
    sent.length = 0;
    expect(await write(spec)).toBe(at + 1);
    const statements = ofWrite(sent);
    expect(jit).toEqual(["off"]);
    expect(statements.filter((s) => /jit/i.test(s) && !/set_config/.test(s))).toEqual([]);
    expect(statements.filter((s) => /^SELECT t\.object.*FROM acl\.tuples/s.test(s))).toHaveLength(1);
    expect(statements.filter((s) => /FROM acl\.changes WHERE revision >/.test(s))).toEqual([]);
    expect(catchUps).toEqual([]);
    // BEGIN, lock (+ JIT off), request ids, tuple read, rows, cycle check, change, event, head, COMMIT.
    expect(statements.length).toBeLessThanOrEqual(10);
    const rows = await db.pool.query("SELECT relation FROM acl.tuples WHERE object = $1 ORDER BY relation", [
      file,
    ]);
    expect(rows.rows.map((r) => r.relation)).toEqual(["owner", "parent"]);
    expect(await head()).toBe(at + 1);
  });

  it("a replica behind the head catches up inside the write's transaction", async () => {
    const at = await head();
    const { sync, catchUps } = syncAt(at - 1);
    const write = createWriter({ pool: db.pool, sync });
    const { spec } = newFileWrite([]);
    expect(await write(spec)).toBe(at + 1);
    expect(catchUps).toHaveLength(1);
    expect(catchUps[0]).not.toBe(db.pool); // the transaction's client, with the writer lock held
    expect(catchUps[0]).toBeDefined();
  });
});
