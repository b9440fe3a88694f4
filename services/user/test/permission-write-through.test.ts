// Against the real permission service (two replicas; the user service balances its writes
// over both): the revision a membership change answers is honoured by Check with
// min_revision on either replica — added members get access at once, removed ones lose it;
// a change that fails, or whose replica is killed, after its write is undone there too.
import { randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { permissionv1, userv1 } from "@filemesh/contracts";
import { call, failure, freePort, testDatabaseUrl } from "@filemesh/kit/testing";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Replica, ROOT } from "../../../test/faults/lib/cluster.js";
import { startUserMesh, type UserTestMesh, userCalls } from "./start-user.js";

let t: UserTestMesh;
let replicas: permissionv1.PermissionServiceClient[];
beforeAll(async () => {
  // Intents older than 3 s are swept every second (the default is a minute).
  t = await startUserMesh({
    realPermission: true,
    permissionReplicas: 2,
    userEnv: { ACL_REPAIR_AFTER: "3s" },
  });
  replicas = [0, 1].map(
    (i) =>
      new permissionv1.PermissionServiceClient(t.mesh.addr("permission", i), credentials.createInsecure()),
  );
});
afterAll(async () => {
  for (const r of replicas) r.close();
  await t.stop();
});

/** A file shared with the group as viewer (written as the file service would). */
async function fileSharedWith(groupId: string): Promise<string> {
  const file = `file:${randomUUID()}`;
  const c = replicas[0]!;
  const relation = { object: file, relation: "viewer", subject: `group:${groupId}` };
  const { RELATION_OPERATION_TOUCH: TOUCH } = permissionv1.RelationOperation;
  await call(
    c.writeRelations.bind(c),
    { updates: [{ operation: TOUCH, relation }], requestId: "", forget: [], fencingToken: "0" },
    t.mesh.serviceHeaders("file"),
  );
  return file;
}

const canRead = async (h: Record<string, string>, resource: string, minRevision: string, replica: number) => {
  const c = replicas[replica]!;
  const res = await call(c.check.bind(c), { subject: "", resource, permission: "read", minRevision }, h);
  return res.allowed;
};

it("grants through direct and nested membership at the answered revision, and revokes likewise", async () => {
  const [admin, direct, nested] = await Promise.all([1, 2, 3].map(() => t.mesh.newUser()));
  const g = (await t.u.createGroup({ name: "readers" }, admin!.headers)).group!.id;
  const sub = (await t.u.createGroup({ name: "sub-readers" }, admin!.headers)).group!.id;
  const file = await fileSharedWith(g);

  for (let round = 0; round < 4; round++) {
    const replica = round % 2;
    const added = await t.u.addMember(g, `user:${direct!.userId}`, admin!.headers);
    expect(await canRead(direct!.headers, file, added.revision, replica)).toBe(true);
    const removed = await t.u.removeMember(g, direct!.userId, admin!.headers);
    expect(Number(removed.revision)).toBeGreaterThan(Number(added.revision));
    expect(await canRead(direct!.headers, file, removed.revision, 1 - replica)).toBe(false);
  }

  await t.u.addMember(sub, `user:${nested!.userId}`, admin!.headers);
  const nestedIn = await t.u.addMember(g, `group:${sub}`, admin!.headers);
  expect(await canRead(nested!.headers, file, nestedIn.revision, 1)).toBe(true);
  // The creator is a member through the admin role.
  expect(await canRead(admin!.headers, file, nestedIn.revision, 0)).toBe(true);

  const gone = await t.u.deleteGroup(g, admin!.headers);
  for (const u of [admin!, nested!]) expect(await canRead(u.headers, file, gone.revision, 1)).toBe(false);
});

it("keeps a demoted admin a member in the permission service", async () => {
  const [admin, other] = await Promise.all([1, 2].map(() => t.mesh.newUser()));
  const g = (await t.u.createGroup({ name: "roles" }, admin!.headers)).group!.id;
  const file = await fileSharedWith(g);
  await t.u.addMember(g, `user:${other!.userId}`, admin!.headers, "admin");
  const demoted = await t.u.addMember(g, `user:${other!.userId}`, admin!.headers, "member");
  expect(await canRead(other!.headers, file, demoted.revision, 1)).toBe(true);
});

/**
 * Runs `change` while users.outbox is locked (the membership is already written to the permission
 * service, the users transaction waits at its event) and kills that transaction's connection:
 * the change fails after the permission service took it.
 */
async function failAfterPermissionWrite(
  change: () => Promise<unknown>,
  /** What ends the waiting transaction (default: its connection is terminated). */
  end: (db: pg.Pool, pid: number) => Promise<unknown> = (db, pid) =>
    db.query("SELECT pg_terminate_backend($1)", [pid]),
): Promise<unknown> {
  const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 3 });
  db.on("error", () => undefined);
  const hold = await db.connect();
  try {
    await hold.query("BEGIN");
    await hold.query("LOCK TABLE users.outbox IN EXCLUSIVE MODE");
    const failed = change().then(
      () => undefined,
      (err: unknown) => err,
    );
    let pid: number | undefined;
    for (const end = Date.now() + 10_000; pid === undefined && Date.now() < end; ) {
      // The change's own transaction: the outbox relay's claim (FOR UPDATE) waits on the same
      // lock, and ending that one instead would let the change commit.
      const { rows } = await db.query(
        `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.relation = 'users.outbox'::regclass AND NOT l.granted AND a.query LIKE '%INSERT INTO%outbox%'`,
      );
      pid = rows[0]?.pid;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(pid).toBeDefined();
    await end(db, pid!);
    await hold.query("COMMIT");
    return await failed;
  } finally {
    hold.release();
    await db.end();
  }
}

it("a change whose users transaction fails after the permission write is undone there too", async () => {
  const [admin, other] = await Promise.all([1, 2].map(() => t.mesh.newUser()));
  const g = (await t.u.createGroup({ name: "dual" }, admin!.headers)).group!.id;
  const file = await fileSharedWith(g);
  const before = await t.u.addMember(g, `user:${admin!.userId}`, admin!.headers, "admin");

  // An addition that fails: the member must not read through the group.
  const err = await failAfterPermissionWrite(() => t.u.addMember(g, `user:${other!.userId}`, admin!.headers));
  expect((err as ServiceError).code).toBe(status.UNAVAILABLE); // retryable, never INTERNAL
  expect((await t.u.listMembers(g, admin!.headers)).members.map((m) => m.member)).not.toContain(
    `user:${other!.userId}`,
  );
  await eventually(async () => !(await canRead(other!.headers, file, before.revision, 0)));
  expect(await canRead(other!.headers, file, before.revision, 1)).toBe(false);

  // A removal that fails: the member keeps reading.
  const added = await t.u.addMember(g, `user:${other!.userId}`, admin!.headers);
  expect(await canRead(other!.headers, file, added.revision, 0)).toBe(true);
  const err2 = await failAfterPermissionWrite(() => t.u.removeMember(g, other!.userId, admin!.headers));
  expect((err2 as ServiceError).code).toBe(status.UNAVAILABLE);
  await eventually(() => canRead(other!.headers, file, added.revision, 1));
  expect(await canRead(other!.headers, file, added.revision, 0)).toBe(true);
});

it("a change whose replica is killed after its permission write is undone by another replica", async () => {
  // A second user replica in a process of its own (dist/user.js), to kill -9 mid-change: it
  // cannot repair its own change, and its transaction dies with it.
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const log = createWriteStream(join(ROOT, ".tmp", "user-killed-replica.log"));
  const env = { ...process.env, ...t.mesh.env } as Record<string, string>;
  const doomed = new Replica("user", 1, await freePort(), 0, () => env, log);
  await doomed.start();
  const client = new userv1.UserServiceClient(doomed.addr, credentials.createInsecure());
  try {
    const [admin, other] = await Promise.all([1, 2].map(() => t.mesh.newUser()));
    const g = (await t.u.createGroup({ name: "killed" }, admin!.headers)).group!.id;
    const file = await fileSharedWith(g);
    const before = await t.u.addMember(g, `user:${admin!.userId}`, admin!.headers, "admin");

    // The addition reaches the permission service, then its replica dies before the commit.
    const err = await failAfterPermissionWrite(
      () => userCalls(client).addMember(g, `user:${other!.userId}`, admin!.headers),
      async () => {
        // Written by either permission replica: replica 0 reads it once it has synchronised.
        await eventually(() => canRead(other!.headers, file, before.revision, 0));
        await doomed.kill();
      },
    );
    expect((err as ServiceError).code).toBe(status.UNAVAILABLE); // the connection went with it
    expect((await t.u.listMembers(g, admin!.headers)).members.map((m) => m.member)).not.toContain(
      `user:${other!.userId}`,
    );
    // The surviving replica's sweep (intents older than 3 s) writes what the database holds.
    await eventually(async () => !(await canRead(other!.headers, file, before.revision, 0)), 20_000);
    expect(await canRead(other!.headers, file, before.revision, 1)).toBe(false);
    const left = await pool().query("SELECT count(*)::int AS n FROM users.acl_intents WHERE group_id = $1", [
      g,
    ]);
    expect(left.rows[0].n).toBe(0);
  } finally {
    client.close();
    await doomed.kill();
    log.end();
  }
});

it("a change running longer than ACL_REPAIR_AFTER is not swept; it leaves no intent behind", async () => {
  const [admin, other] = await Promise.all([1, 2].map(() => t.mesh.newUser()));
  const tuples = async (g: string) =>
    (
      await pool().query<{ relation: string; subject: string }>(
        "SELECT relation, subject FROM acl.tuples WHERE object = $1 ORDER BY 1, 2",
        [`group:${g}`],
      )
    ).rows.map((r) => `${r.relation}@${r.subject}`);
  // Held open for 4.5 s or more at their events (the sweep takes intents older than 3 s, every second):
  // a new group — whose row the sweep cannot see, let alone lock — and an addition to an
  // existing one. The sweep must wait for both, not write the state before them.
  const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
  const hold = await db.connect();
  const g0 = (await t.u.createGroup({ name: "existing" }, admin!.headers)).group!.id;
  let created: Awaited<ReturnType<typeof t.u.createGroup>>;
  try {
    await hold.query("BEGIN");
    await hold.query("LOCK TABLE users.outbox IN EXCLUSIVE MODE");
    // One after the other, so that a sweep meets the creation's intent alone (a sweep locks all
    // the groups of its batch first, and the addition's would make it wait for both).
    const creating = t.u.createGroup({ name: "slow" }, admin!.headers);
    await new Promise((r) => setTimeout(r, 2500));
    const adding = t.u.addMember(g0, `user:${other!.userId}`, admin!.headers);
    await new Promise((r) => setTimeout(r, 4500));
    await hold.query("COMMIT");
    [created] = await Promise.all([creating, adding]);
  } finally {
    hold.release();
    await db.end();
  }
  const g = created.group!.id;
  await new Promise((r) => setTimeout(r, 1500)); // a sweep after the commits changes nothing
  // One role per subject in a group there: admin (a member too).
  expect(await tuples(g)).toEqual([`admin@user:${admin!.userId}`]);
  expect(await tuples(g0)).toEqual([`admin@user:${admin!.userId}`, `member@user:${other!.userId}`]);
  const left = await pool().query(
    "SELECT count(*)::int AS n FROM users.acl_intents WHERE group_id = ANY($1)",
    [[g, g0]],
  );
  expect(left.rows[0].n).toBe(0);
});

it("a membership write delayed past a later change of its group is refused (fencing tokens)", async () => {
  const [admin, other] = await Promise.all([1, 2].map(() => t.mesh.newUser()));
  const g = (await t.u.createGroup({ name: "fenced" }, admin!.headers)).group!.id;
  const file = await fileSharedWith(g);
  // A removal whose change took its token under the group's lock, then stalled on its way to
  // the permission service (past its caller's deadline: the change failed and was retried)...
  const stalled = (await pool().query<{ t: string }>("SELECT nextval('users.acl_fence')::text AS t")).rows[0]!
    .t;
  // ... while a later change of the group, fenced with a later token, was acknowledged.
  const added = await t.u.addMember(g, `user:${other!.userId}`, admin!.headers);
  expect(await canRead(other!.headers, file, added.revision, 0)).toBe(true);
  const { RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;
  const late = {
    updates: [
      {
        operation: DELETE,
        relation: { object: `group:${g}`, relation: "member", subject: `user:${other!.userId}` },
      },
    ],
    requestId: "",
    forget: [],
    fencingToken: stalled,
  };
  for (const c of replicas) {
    expect(await failure(call(c.writeRelations.bind(c), late, t.mesh.serviceHeaders("user")))).toMatchObject({
      code: status.ABORTED,
      reason: "STALE_WRITE",
    });
  }
  expect(await canRead(other!.headers, file, added.revision, 1)).toBe(true);
  const tuples = await pool().query("SELECT relation, subject FROM acl.tuples WHERE object = $1 ORDER BY 1", [
    `group:${g}`,
  ]);
  expect(tuples.rows.map((r) => `${r.relation}@${r.subject}`)).toContain(`member@user:${other!.userId}`);
});

let assertions: pg.Pool | undefined;
const pool = () => {
  assertions ??= new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
  return assertions;
};
afterAll(async () => {
  await assertions?.end();
});

const eventually = async (probe: () => Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
};
