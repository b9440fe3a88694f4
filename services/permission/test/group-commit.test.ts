// Group commit of WriteRelations (issue 15 §3) on a real two-replica mesh: concurrent writers
// share transactions (rows of one transaction share xmin) yet each gets its own revision,
// gapless and in order; a check with the write's min_revision on the other replica sees it;
// a bad write in a batch fails alone; a request id repeated within a batch is one write.
import { call, failure, privateDatabase, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AclMesh, type Rel, startAclMesh, toUpdates } from "./acl-mesh.js";

let t: AclMesh;
let db: pg.Pool;
let own: Awaited<ReturnType<typeof privateDatabase>>;
beforeAll(async () => {
  // A database of its own: the tests count revisions, which no other suite may move meanwhile.
  own = await privateDatabase();
  t = await startAclMesh({ replicas: 2, env: { DATABASE_URL: own.url } });
  db = new pg.Pool({ connectionString: own.url, max: 2 });
});
afterAll(async () => {
  await t?.stop();
  await db?.end();
  await own?.drop();
});

const head = async () => Number((await db.query("SELECT revision FROM acl.meta")).rows[0].revision);
/** Transactions (distinct commit times, one per transaction) that wrote revisions (from, to]. */
const transactions = async (from: number, to: number) =>
  Number(
    (
      await db.query(
        "SELECT count(DISTINCT commit_time) AS n FROM acl.changes WHERE revision > $1 AND revision <= $2",
        [from, to],
      )
    ).rows[0].n,
  );
const newFileWrite = (folder: string, link: string): { f: string; rels: Rel[] } => {
  const f = t.newFile().ref;
  return {
    f,
    rels: [
      ["touch", f, "parent", folder],
      ["touch", f, "viewer", link],
      ["touch", f, "owner", `user:${uniqueId("u")}`],
    ],
  };
};

describe("group commit of WriteRelations", () => {
  it("64 concurrent writers: all acknowledged, own gapless revisions in each writer's order, batched", async () => {
    const before = await head();
    const folder = t.newFile().ref;
    const link = `link:${uniqueId("l")}`;
    const perWriter = 5;
    const written = await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        const mine: { f: string; rev: number }[] = [];
        for (let k = 0; k < perWriter; k++) {
          const { f, rels } = newFileWrite(folder, link);
          mine.push({ f, rev: Number(await t.write(rels, { i: w % 2 })) });
        }
        return mine;
      }),
    );
    // Each writer's next write was issued after the previous was acknowledged: strictly later.
    for (const mine of written) {
      for (let k = 1; k < mine.length; k++) expect(mine[k]!.rev).toBeGreaterThan(mine[k - 1]!.rev);
    }
    const revs = written.flat().map((w) => w.rev);
    const after = await head();
    expect(after - before).toBe(64 * perWriter);
    expect(new Set(revs).size).toBe(64 * perWriter);
    expect([...revs].sort((a, b) => a - b)).toEqual(
      Array.from({ length: revs.length }, (_, i) => before + 1 + i),
    );
    // Far fewer transactions than writes: they were group-committed.
    expect(await transactions(before, after)).toBeLessThan(revs.length / 2);
    // Read-your-writes on the other replica with each write's revision.
    const file = t.mesh.serviceHeaders("file");
    const sample = written.map((mine, w) => ({ ...mine[mine.length - 1]!, i: (w + 1) % 2 }));
    const seen = await Promise.all(
      sample.map((s) => t.check(file, s.f, "read", { subject: link, minRevision: String(s.rev), i: s.i })),
    );
    expect(seen.every(Boolean)).toBe(true);
  });

  it("a bad write in a batch fails alone; the others commit with gapless revisions", async () => {
    const [a, b] = [t.newFile().ref, t.newFile().ref];
    await t.write([["touch", b, "parent", a]]);
    const link = `link:${uniqueId("l")}`;
    const folder = t.newFile().ref;
    const before = await head();
    // The first write runs alone; the 40 behind it queue and share a transaction.
    const goods = Array.from({ length: 40 }, () => newFileWrite(folder, link));
    const calls = [
      ...goods.slice(0, 20).map((g) => t.write(g.rels)),
      failure(t.write([["touch", a, "parent", b]])), // closes a cycle
      t.write([["touch", t.newFile().ref, "parent", t.newFile().ref]], { requestId: uniqueId("req") }),
      ...goods.slice(20).map((g) => t.write(g.rels)),
    ];
    const results = await Promise.all(calls);
    const cycle = results[20] as Awaited<ReturnType<typeof failure>>;
    expect(cycle).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "PARENT_CYCLE" });
    const goodRevs = [...results.slice(0, 20), ...results.slice(21)].map(Number);
    expect(goodRevs.every((r) => r > before)).toBe(true);
    const after = await head();
    // 40 good writes + the one with a request id; no revision for the bad one.
    expect(after - before).toBe(41);
    expect(await transactions(before, after)).toBeLessThan(10);
    // The bad write changed nothing; the good ones are visible on the other replica.
    const file = t.mesh.serviceHeaders("file");
    expect(await t.check(file, a, "read", { subject: link, minRevision: String(after), i: 1 })).toBe(false);
    const visible = await Promise.all(
      goods.map((g) => t.check(file, g.f, "read", { subject: link, minRevision: String(after), i: 1 })),
    );
    expect(visible.every(Boolean)).toBe(true);
    const rows = await db.query("SELECT 1 FROM acl.tuples WHERE object = $1 AND relation = 'parent'", [a]);
    expect(rows.rowCount).toBe(0);
  });

  it("the same request id sent 10 times at once is one write with one revision", async () => {
    const f = t.newFile().ref;
    const rels: Rel[] = [["touch", f, "owner", `user:${uniqueId("u")}`]];
    const requestId = uniqueId("req");
    const before = await head();
    const revs = await Promise.all(Array.from({ length: 10 }, () => t.write(rels, { requestId })));
    expect(new Set(revs).size).toBe(1);
    expect((await head()) - before).toBe(1);
    // Reused with other content, in the same burst as good writes: refused alone.
    const link = `link:${uniqueId("l")}`;
    const folder = t.newFile().ref;
    const out = await Promise.all([
      ...Array.from({ length: 10 }, () => t.write(newFileWrite(folder, link).rels)),
      failure(t.write([["touch", f, "viewer", `user:${uniqueId("u")}`]], { requestId })),
    ]);
    expect(out[10]).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "REQUEST_ID_REUSED" });
    expect((await head()) - before).toBe(11);
  });

  it("CreateGrant (index-reading plan) interleaved with batches sees every earlier write", async () => {
    const me = await t.mesh.newUser();
    const friend = await t.mesh.newUser();
    const { id, ref } = t.newFile();
    const fillers = Array.from({ length: 20 }, () => t.write(newFileWrite(t.newFile().ref, "link:x").rels));
    await t.write([["touch", ref, "owner", `user:${me.userId}`]]);
    const grant = await t.createGrant(me.headers, id, { subject: `user:${friend.userId}`, role: "viewer" });
    await Promise.all(fillers);
    expect(grant.role).toBe("viewer");
    expect(await t.check(friend.headers, ref, "read", { minRevision: grant.revision, i: 1 })).toBe(true);
  });

  it("a write whose caller went away while queued is never made (no ghost write after a retry)", async () => {
    // Replica 0's writer is busy (its transaction waits for the writer lock, held here), so the
    // next write queues behind it in process; that write's caller gives up (deadline, as when
    // the calling replica dies) and its retry — the opposite update — goes through replica 1.
    // When the lock frees, the abandoned write must not land after the retry and undo it.
    const g = `group:${uniqueId("g")}`;
    const member = `user:${uniqueId("u")}`;
    const user = t.mesh.serviceHeaders("user");
    const holder = await db.connect();
    let busy: Promise<string> | undefined;
    let retry: Promise<string> | undefined;
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT revision FROM acl.meta FOR UPDATE");
      busy = t.write([["touch", t.newFile().ref, "owner", member]], { i: 0 });
      await new Promise((r) => setTimeout(r, 200)); // replica 0's transaction waits for the lock
      const abandoned = call(
        t.clients[0]!.writeRelations.bind(t.clients[0]),
        {
          updates: toUpdates([["delete", g, "member", member]]),
          requestId: "",
          forget: [],
          fencingToken: "0",
        },
        user,
        300,
      );
      expect(await failure(abandoned)).toMatchObject({ code: status.DEADLINE_EXCEEDED });
      retry = t.write([["touch", g, "member", member]], { i: 1, caller: "user" });
      await new Promise((r) => setTimeout(r, 200)); // replica 1's transaction waits for the lock too
    } finally {
      await holder.query("COMMIT");
      holder.release();
    }
    await busy;
    const rev = Number(await retry);
    await new Promise((r) => setTimeout(r, 500)); // the abandoned write had every chance to run
    const rows = await db.query("SELECT 1 FROM acl.tuples WHERE object = $1 AND subject = $2", [g, member]);
    expect(rows.rows).toHaveLength(1);
    expect(Number((await db.query("SELECT revision FROM acl.meta")).rows[0].revision)).toBe(rev);
  });
});
